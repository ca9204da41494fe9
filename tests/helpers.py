"""Builders for test configuration trees: a CONFDIR with conf.d/ and templates/."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class ConfTree:
    """A CONFDIR under a temporary directory, with an `out/` directory for destinations."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.confdir = root / "confdir"
        self.out = root / "out"
        (self.confdir / "conf.d").mkdir(parents=True)
        (self.confdir / "templates").mkdir()
        self.out.mkdir()

    def resource(self, name: str, body: str) -> Path:
        """Write conf.d/NAME.toml; `{out}` in the body stands for the output directory."""
        path = self.confdir / "conf.d" / f"{name}.toml"
        path.write_text(body.replace("{out}", str(self.out)))
        return path

    def template(self, name: str, text: str) -> Path:
        path = self.confdir / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def simple(self, name: str, template: str, keys: list[str], extra: str = "") -> Path:
        """A resource NAME rendering templates/NAME.j2 into out/NAME."""
        self.template(f"{name}.j2", template)
        key_list = ", ".join(f'"{k}"' for k in keys)
        self.resource(
            name,
            f'[template]\nsrc = "{name}.j2"\ndest = "{{out}}/{name}"\nkeys = [{key_list}]\n{extra}',
        )
        return self.out / name


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)
