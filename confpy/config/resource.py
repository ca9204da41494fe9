"""Read template resources (`CONFDIR/conf.d/*.toml`, confd's format) into frozen values.

A resource says which template renders which file from which keys, and how the file is
checked, installed and announced. It holds configuration only: runtime state (stage
files, last revision, failures) lives in the runner and the daemon.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from confpy.config.fields import EACH_NAME, Command, FieldParser
from confpy.config.keys import join_key
from confpy.config.values import CONFD_FIELDS, gid_of, line_of, shown, uid_of
from confpy.errors import ConfigError, ConfigProblems


@dataclass(frozen=True)
class TemplateResource:
    """One `[template]` table: how one destination file is produced and announced."""

    name: str
    """The resource file's stem, used in logs (`nginx` for `conf.d/nginx.toml`)."""
    path: Path
    """The resource file itself, for error messages."""
    src: Path
    dest: Path
    keys: tuple[str, ...]
    """Keys as written, relative to `prefix`, each normalised to start with `/`."""
    prefix: str = ""
    """Global prefix joined with the resource's own; `""` means the root."""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    check_cmd: Command | None = None
    reload_cmd: Command | None = None
    restart_cmd: Command | None = None
    reload_signal: str | None = None
    pidfile: Path | None = None
    command_timeout: float = 30.0
    exec_notify: bool = True
    make_dirs: bool = False
    secret: bool = False
    """Private whatever its mode: `--noop`, `--stdout` and command output never show its lines."""
    validate: str | None = None
    wait: tuple[float, float] | None = None
    min_reload_interval: float | None = None
    """Watch mode: run this resource's reload at most once per this many seconds while
    changes keep arriving (None: the daemon's --min-reload-interval)."""
    syntax: str = "jinja"
    # -- issue 14: one template to many files, reload over HTTP, guarded installs --------
    each: str | None = None
    """A confd glob, relative to `prefix`: render once per matching key or key directory."""
    reload_url: str | None = None
    reload_method: str = "POST"
    min_bytes: int = 0
    on_reload_failure: str = "keep"
    fleet: tuple[str, int] | None = None
    """`fleet_group` and `fleet_concurrency`: reload slots shared across the fleet."""
    owner_names: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """`owner`/`group` names this machine lacked at load: looked up again by `file_owner`."""
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """What loading noticed but let pass (an unknown field...): one line each, file and field."""

    @property
    def full_keys(self) -> tuple[str, ...]:
        """The absolute etcd keys this resource reads: each matches itself and its subtree."""
        keys = tuple(join_key(self.prefix, k) for k in self.keys)
        if self.each is not None:
            keys += (join_key(self.prefix, each_base(self.each)),)
        return keys


@dataclass(frozen=True)
class EachMatch:
    """What one file of an `each` resource was rendered for (`each.key` in templates)."""

    key: str
    """The matched key or key directory, relative to the resource's prefix."""
    name: str
    value: str | None
    """The key's value, decoded; None for a key directory that has no value itself."""
    values: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    """The snapshot narrowed to what this file may read: its match and the resource's keys."""

    @property
    def Key(self) -> str:  # Go templates' field names
        return self.key

    @property
    def Name(self) -> str:
        return self.name

    @property
    def Value(self) -> str | None:
        return self.value

    def __call__(self) -> dict[str, str | None]:
        """Go templates call a bare name: `{{ (each).Name }}` reads this map's fields."""
        return {"Key": self.key, "Name": self.name, "Value": self.value}


def file_owner(resource: TemplateResource) -> tuple[int | None, int | None]:
    """The uid and gid a destination gets (None: keep or default); a name this machine
    lacked at load is looked up now, and a LookupError names the one still missing."""
    uid, gid = resource.uid, resource.gid
    for field_name, lookup, kind in (("owner", uid_of, "user"), ("group", gid_of, "group")):
        name = resource.owner_names.get(field_name)
        if name is None:
            continue
        try:
            number = lookup(name)
        except KeyError:
            raise LookupError(f"{field_name}: no such {kind} {name!r} on this machine") from None
        uid, gid = (number, gid) if field_name == "owner" else (uid, number)
    return uid, gid


def each_base(pattern: str) -> str:
    """The glob-free leading directories of an `each` pattern: what to read and watch."""
    parts = pattern.split("/")
    fixed = []
    for part in parts[:-1]:
        if any(c in part for c in "*?[\\"):
            break
        fixed.append(part)
    return "/".join(fixed) or "/"


@dataclass
class LoadResult:
    resources: list[TemplateResource] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


def load_resources(confdir: Path, prefix: str = "") -> LoadResult:
    """Load every `conf.d/*.toml` under `confdir`, collecting every problem, not just the first."""
    result = LoadResult()
    confd = confdir / "conf.d"
    if not confd.is_dir():
        result.errors.append(
            ConfigError("no conf.d directory with template resources", file=str(confd))
        )
        return result
    files = _resource_files(confd)
    if not files:
        result.errors.append(ConfigError("no *.toml template resources found", file=str(confd)))
    seen: dict[str, Path] = {}
    names: dict[str, Path] = {}
    for path in files:
        try:
            res = load_resource(path, confdir / "templates", prefix)
            if path.parent != confd:  # conf.d/site/app.toml is "site.app": names stay unique
                rel = path.relative_to(confd)
                res = replace(res, name=".".join((*rel.parent.parts, res.name)))
        except ConfigProblems as e:
            result.errors.extend(p for p in e.problems if isinstance(p, ConfigError))
            continue
        except ConfigError as e:
            result.errors.append(e)
            continue
        # One file has one owner, however it is spelled: `out/../out/f`, or a path
        # through a symlinked directory, is the same file as `out/f`.
        real = os.path.realpath(res.dest)
        if real in seen:
            result.errors.append(
                ConfigError(
                    f"dest {res.dest} is also written by {seen[real]}"
                    + (f" (both are {real})" if real != str(res.dest) else ""),
                    file=str(path),
                    line=line_of(path.read_text(), "dest"),
                    field="dest",
                )
            )
            continue
        seen[real] = path
        if res.name in names:
            result.errors.append(
                ConfigError(f"resource name {res.name} is also {names[res.name]}'s", file=str(path))
            )
            continue
        names[res.name] = path
        result.resources.append(res)
    _each_overlaps(result)
    return result


def _resource_files(confd: Path) -> list[Path]:
    """Every file under conf.d, subdirectories included, whose name ends in `toml`: confd's
    `RecursiveFilesLookup(confdir, "*toml")`, in its lexical walk order."""
    found: list[Path] = []
    for directory, dirs, names in os.walk(confd):
        dirs.sort()
        found.extend(Path(directory) / n for n in names if n.endswith("toml"))
    return sorted(found, key=lambda p: p.relative_to(confd).parts)


def _each_overlaps(result: LoadResult) -> None:
    """Refuse two `each` dests that can name the same file.

    `a-{{ name }}.conf` and `{{ name }}.conf` can both produce `a-b.conf`: neither could
    tell whose file it is, so the second is refused at load time. (A plain resource's
    dest that an `each` dest could produce is reserved: `confpy.apply.each.reserved_dests`.)
    """
    each = [r for r in result.resources if r.each is not None]
    for i, r in enumerate(each):
        for other in each[:i]:
            if _patterns_overlap(str(other.dest), str(r.dest)):
                result.errors.append(
                    ConfigError(
                        f"dest {r.dest} can name the same files as {other.dest} "
                        f"(resource {other.name})",
                        file=str(r.path),
                        line=line_of(r.path.read_text(), "dest"),
                        field="dest",
                    )
                )


def each_dest_regex(dest: str) -> re.Pattern[str]:
    """Every path an `each` dest can produce: `{{ name }}` is any non-empty name without `/`."""
    parts = EACH_NAME.split(dest)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))


def _patterns_overlap(a: str, b: str) -> bool:
    """Whether two `each` dests can produce one path (conservative with repeated names)."""
    if a.rpartition("/")[0] != b.rpartition("/")[0]:
        return False  # {{ name }} never holds a `/`: different directories never meet
    (pa, *_, sa), (pb, *_, sb) = EACH_NAME.split(a), EACH_NAME.split(b)
    return (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa))


def load_resource(path: Path, templates_dir: Path, prefix: str = "") -> TemplateResource:
    """Parse one resource file; raise ConfigError naming the file, line and field at fault."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    text = text.removeprefix("\ufeff")  # a byte order mark, which confd's decoder skips
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = _toml_error_line(e) or max(text.count("\n"), 1)
        raise ConfigError(
            f"invalid TOML: {_toml_error_text(e)}", file=str(path), line=line
        ) from None

    # confd reads the [template] table and ignores everything else: so does confpy, saying so.
    outside: list[str] = []
    for name, value in data.items():
        if name == "template":
            continue
        if isinstance(value, dict):
            outside.append(
                str(
                    ConfigError(
                        f"unknown table [{shown(name)}], ignored: a resource file holds one "
                        "[template]",
                        file=str(path),
                        line=line_of(text, name, table=True),
                    )
                )
            )
            continue
        outside.append(
            str(
                ConfigError(
                    f"{shown(name)}: field is outside the [template] table, ignored",
                    file=str(path),
                    line=line_of(text, name),
                )
            )
        )
    table = data.get("template")
    if not isinstance(table, dict):
        raise ConfigError("missing [template] table", file=str(path))
    parser = FieldParser(path, text, _confd_field_names(table), templates_dir, prefix)
    fields = parser.parse()
    return TemplateResource(
        name=path.stem,
        path=path,
        owner_names=parser.owner_names,
        warnings=(*outside, *parser.warnings),
        **fields,
    )


def _confd_field_names(table: dict[str, object]) -> dict[str, object]:
    """confd's TOML decoder matches field names regardless of case (`Dest`, `SRC`): the
    table with those spelled as confpy spells them."""
    out: dict[str, object] = {}
    for name, value in table.items():
        lower = name.lower()
        if name not in CONFD_FIELDS and lower in CONFD_FIELDS and lower not in table:
            name = lower
        out[name] = value
    return out


def _toml_error_line(e: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"at line (\d+)", str(e))
    return int(m.group(1)) if m else None


def _toml_error_text(e: tomllib.TOMLDecodeError) -> str:
    return re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(e)) or str(e)
