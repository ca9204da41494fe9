"""`confpy convert`'s work: confd Go templates rewritten as readable Jinja2, one file or a tree.

A converted template renders the same bytes as the Go original under confpy's plain
Jinja environment. A template using something plain Jinja cannot print exactly stays a
`.tmpl` (confpy runs Go templates directly), and the caller is told why.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

from confpy.convert.translate import NotReadable, translate_readable
from confpy.errors import ConfigError, ConfpyError

__all__ = ["NotReadable", "convert_template", "convert_tree"]


def convert_template(source: str, filename: str = "<template>") -> str:
    """Readable Jinja2 for a Go template; raises NotReadable (a TemplateSyntaxError) when
    plain Jinja cannot render the same bytes, and TemplateSyntaxError for broken syntax."""
    from confpy.gotemplate.engine import FUNCTION_NAMES
    from confpy.gotemplate.goparse import parse

    # The engine's own parser (keeping comments): what confd would refuse is reported as
    # confd reports it, and the translation is a pass over the tree the engine runs.
    name = os.path.basename(filename)
    return translate_readable(
        parse(source, name, FUNCTION_NAMES, filename, comments=True), filename
    )


def convert_tree(
    confdir: Path,
    out: Path,
    force: bool = False,
    *,
    on_keep: Callable[[Path, str], None] | None = None,
) -> list[Path]:
    """Copy `confdir` to `out`, turning Go templates into `.j2` files and pointing the
    resources at them. Returns every file written. `on_keep(template, reason)` hears of
    each Go template left as it was."""
    confdir, out = Path(confdir), Path(out)
    if not (confdir / "conf.d").is_dir() and not (confdir / "templates").is_dir():
        raise ConfigError(f"{confdir} has neither conf.d/ nor templates/: not a confd directory")
    if out.resolve() == confdir.resolve() or confdir.resolve() in out.resolve().parents:
        raise ConfigError(f"--out {out} must be outside the confdir {confdir}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ConfigError(f"{out} exists and is not empty (use --force to write into it)")

    templates_dir = confdir / "templates"
    go_srcs, jinja_srcs = _declared_syntaxes(confdir / "conf.d")
    renamed: dict[str, str] = {}
    written: list[Path] = []
    converted: dict[Path, tuple[str, str]] = {}
    for path in sorted(templates_dir.rglob("*")) if templates_dir.is_dir() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(templates_dir).as_posix()
        is_go = rel in go_srcs or (rel.endswith(".tmpl") and rel not in jinja_srcs)
        if not is_go:
            continue
        try:
            # Bytes, not read_text: universal newlines would turn the template's CRs into LFs.
            text = convert_template(path.read_bytes().decode("utf-8"), str(path))
        except UnicodeDecodeError:
            if on_keep is not None:
                on_keep(path, "not UTF-8 text")
            continue
        except ConfpyError as e:
            # Not convertible, or not even valid Go: the .tmpl stays as it is (confpy runs
            # it, or reports its syntax error when it loads it).
            if on_keep is not None:
                on_keep(path, str(e))
            continue
        new_rel = rel[: -len(".tmpl")] + ".j2" if rel.endswith(".tmpl") else rel + ".j2"
        renamed[rel] = new_rel
        converted[path] = (new_rel, text)

    for path in sorted(confdir.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(confdir)
        if path in converted:
            new_rel, text = converted[path]
            dest = out / "templates" / new_rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(text.encode("utf-8"))
        elif relative.parts[0] == "conf.d" and path.suffix == ".toml":
            dest = out / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            # Bytes in and out: universal newlines would drop the file's CRs.
            text = _retarget(path.read_bytes().decode("utf-8"), renamed)
            dest.write_bytes(text.encode("utf-8"))
            shutil.copymode(path, dest)
        else:
            dest = out / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        written.append(dest)
    return written


def _declared_syntaxes(confd: Path) -> tuple[set[str], set[str]]:
    """Template names resources read as Go and as Jinja2, by the loader's rule: `syntax`
    when set, else Go unless the name ends in `.j2`, `.jinja` or `.jinja2` (as confd,
    which has one template language, reads `haproxy.cfg`)."""
    from confpy.config.values import JINJA_SUFFIXES

    go: set[str] = set()
    jinja: set[str] = set()
    for toml in sorted(confd.rglob("*.toml")) if confd.is_dir() else []:
        try:
            table = tomllib.loads(toml.read_text(encoding="utf-8")).get("template", {})
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read resource: {e}", file=str(toml)) from None
        src, syntax = table.get("src"), table.get("syntax")
        if not isinstance(src, str):
            continue
        src = src.lstrip("/")  # confd joins a leading / to templates/ too
        if syntax == "jinja" or (syntax is None and src.endswith(JINJA_SUFFIXES)):
            jinja.add(src)
        else:
            go.add(src)
    return go, jinja


_SRC_LINE = re.compile(r"""^(\s*src\s*=\s*)(["'])(.*?)\2.*$""", re.MULTILINE)
_SYNTAX_LINE = re.compile(r"""^(\s*syntax\s*=\s*)(["'])go\2""", re.MULTILINE)
_PREFIX_LINE = re.compile(r"""^\s*prefix\s*=""", re.MULTILINE)
_REPLACES = "global_prefix_replaces = true  # as confd did for the Go template"


def _retarget(text: str, renamed: dict[str, str]) -> str:
    """Point `src` at the converted file, touching nothing else (comments and CRs stay).

    With its own `prefix`, the resource keeps the Go rule: a global `--prefix` replaces it.
    """
    match = _SRC_LINE.search(text)
    if match is None or match.group(3) not in renamed:
        return text
    quote = match.group(2)
    crlf = match.group(0).endswith("\r")
    end = match.end() - crlf
    rule = ""
    if _PREFIX_LINE.search(text) and "global_prefix_replaces" not in text:
        rule = ("\r\n" if crlf else "\n") + _REPLACES
    text = (
        text[: match.start(3)]
        + renamed[match.group(3)]
        + text[match.end(3) : end]
        + rule
        + text[end:]
    )
    # An explicit `syntax = "go"` would make confpy translate the Jinja file again.
    return _SYNTAX_LINE.sub(lambda m: f"{m.group(1)}{quote}jinja{quote}", text)
