"""Run a confd directory through `confpy convert`, for tests that compare it with confd.

`convert_confdir(confdir, workdir)` writes the converted copy under `workdir` and says which
Go templates it kept, and why: the corpus and differential tests render the copy with
`confpy render` and expect confd's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from confpy.convert.tree import convert_tree


@dataclass
class Converted:
    confdir: Path
    """The converted confdir: conf.d/ and templates/, Go templates turned into `.j2`."""
    kept: dict[str, str] = field(default_factory=dict)
    """Each Go template left as it was (path relative to templates/) and the reason."""


def convert_confdir(confdir: Path, workdir: Path) -> Converted:
    """`confpy convert --confdir CONFDIR --out WORKDIR/converted`, in process."""
    out = Path(workdir) / "converted"
    result = Converted(out)

    def keep(template: Path, reason: str) -> None:
        result.kept[template.relative_to(Path(confdir) / "templates").as_posix()] = reason

    convert_tree(Path(confdir), out, on_keep=keep)
    return result
