"""Read template resources (`CONFDIR/conf.d/*.toml`, confd's format) into frozen values.

A resource says which template renders which file from which keys, and how the file is
checked, installed and announced. It holds configuration only: runtime state (stage
files, last revision, failures) lives in the runner and the daemon.
"""

from __future__ import annotations

import grp
import pwd
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confpy.durations import parse_duration, parse_wait
from confpy.errors import ConfigError

Command = str | tuple[str, ...]
"""A string runs through `/bin/sh -c` as in confd; an array runs without a shell."""

VALIDATORS = ("json", "yaml", "toml")
SYNTAXES = ("jinja", "go")
SIGNALS = (
    "HUP",
    "INT",
    "QUIT",
    "USR1",
    "USR2",
    "TERM",
    "WINCH",
    "ALRM",
    "CONT",
    "STOP",
    "TSTP",
    "KILL",
)


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
    validate: str | None = None
    wait: tuple[float, float] | None = None
    min_reload_interval: float | None = None
    """Watch mode: run this resource's reload at most once per this many seconds while
    changes keep arriving (None: the daemon's --min-reload-interval)."""
    syntax: str = "jinja"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def full_keys(self) -> tuple[str, ...]:
        """The absolute etcd keys this resource reads: each matches itself and its subtree."""
        return tuple(join_key(self.prefix, k) for k in self.keys)


@dataclass
class LoadResult:
    resources: list[TemplateResource] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)


def join_key(prefix: str, key: str) -> str:
    """Join like confd's `path.Join`: `/app` + `host` -> `/app/host`, rooted, no trailing slash."""
    return "/" + "/".join(p for p in f"{prefix}/{key}".split("/") if p)


def _effective_prefix(global_prefix: str, own_prefix: str, syntax: str) -> str:
    """The prefix a resource reads under.

    A Go (confd) resource follows confd: a global prefix, when set, replaces the
    resource's own `prefix` (resource/template/resource.go). A Jinja resource joins them:
    the global prefix, then its own.
    """
    if syntax == "go" and global_prefix.strip("/"):
        return join_key(global_prefix, "").rstrip("/")
    return join_key(global_prefix, own_prefix).rstrip("/")


def load_resources(confdir: Path, prefix: str = "") -> LoadResult:
    """Load every `conf.d/*.toml` under `confdir`, collecting every problem, not just the first."""
    result = LoadResult()
    confd = confdir / "conf.d"
    if not confd.is_dir():
        result.errors.append(
            ConfigError("no conf.d directory with template resources", file=str(confd))
        )
        return result
    files = sorted(confd.glob("*.toml"))
    if not files:
        result.errors.append(ConfigError("no *.toml template resources found", file=str(confd)))
    seen: dict[Path, Path] = {}
    for path in files:
        try:
            res = load_resource(path, confdir / "templates", prefix)
        except ConfigError as e:
            result.errors.append(e)
            continue
        if res.dest in seen:
            result.errors.append(
                ConfigError(
                    f"dest {res.dest} is also written by {seen[res.dest]}",
                    file=str(path),
                    line=_line_of(path.read_text(), "dest"),
                    field="dest",
                )
            )
            continue
        seen[res.dest] = path
        result.resources.append(res)
    return result


def load_resource(path: Path, templates_dir: Path, prefix: str = "") -> TemplateResource:
    """Parse one resource file; raise ConfigError naming the file, line and field at fault."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = _toml_error_line(e) or max(text.count("\n"), 1)
        raise ConfigError(
            f"invalid TOML: {_toml_error_text(e)}", file=str(path), line=line
        ) from None

    for name, value in data.items():
        if name == "template":
            continue
        if isinstance(value, dict):
            raise ConfigError(
                f"unknown table [{name}]: a resource file holds one [template] table",
                file=str(path),
                line=_line_of(text, name, table=True),
            )
        raise ConfigError(
            f"{name}: field is outside the [template] table",
            file=str(path),
            line=_line_of(text, name),
            field=name,
        )
    table = data.get("template")
    if not isinstance(table, dict):
        raise ConfigError("missing [template] table", file=str(path))
    return _Parser(path, text, table, templates_dir, prefix).parse()


class _Parser:
    """Field-by-field checks for one `[template]` table, each error naming its field and line."""

    def __init__(
        self, path: Path, text: str, table: dict[str, Any], templates_dir: Path, prefix: str
    ) -> None:
        self.path, self.text, self.table = path, text, table
        self.templates_dir, self.global_prefix = templates_dir, prefix

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(
            f"{name}: {message}", file=str(self.path), line=_line_of(self.text, name), field=name
        )

    def get(self, name: str, kinds: type | tuple[type, ...], what: str) -> Any:
        value = self.table.get(name)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise self.error(name, f"must be {what}, not a boolean")
        if not isinstance(value, kinds):
            raise self.error(name, f"must be {what}, not {type(value).__name__}")
        return value

    def parse(self) -> TemplateResource:
        known = {
            "src",
            "dest",
            "keys",
            "prefix",
            "mode",
            "uid",
            "gid",
            "owner",
            "group",
            "check_cmd",
            "reload_cmd",
            "restart_cmd",
            "reload_signal",
            "pidfile",
            "command_timeout",
            "exec_notify",
            "make_dirs",
            "validate",
            "wait",
            "min_reload_interval",
            "syntax",
        }
        for name in self.table:
            if name not in known:
                hint = _closest(name, known)
                raise self.error(
                    name, "unknown field" + (f" (did you mean {hint!r}?)" if hint else "")
                )
        for required in ("src", "dest", "keys"):
            if required not in self.table:
                raise ConfigError(
                    f"{required}: required field is missing", file=str(self.path), field=required
                )

        src_name = self.get("src", str, "a file name under templates/")
        if not src_name:
            raise self.error("src", "must not be empty")
        src = self.templates_dir / src_name
        if not src.is_file():
            raise self.error("src", f"template file {src} does not exist")

        dest_name = self.get("dest", str, "an absolute path")
        if not dest_name or not dest_name.startswith("/"):
            raise self.error("dest", f"must be an absolute path, got {dest_name!r}")
        dest = Path(dest_name)

        keys = self.get("keys", list, "an array of keys")
        if not keys or not all(isinstance(k, str) and k.strip() for k in keys):
            raise self.error("keys", "must be a non-empty array of non-empty strings")
        own_prefix = self.get("prefix", str, "a string") or ""

        if isinstance(self.table.get("mode"), int) and not isinstance(self.table["mode"], bool):
            # TOML reads `mode = 644` as decimal 644 (0o1204, sticky bit set): refuse it.
            raise self.error("mode", 'write the mode as an octal string, e.g. mode = "0644"')
        mode = self.get("mode", str, 'an octal string such as "0644"')
        if mode is not None:
            if not re.fullmatch(r"0?[0-7]{3,4}", mode):
                raise self.error("mode", f'must be an octal string such as "0644", got {mode!r}')
            mode = int(mode, 8)

        uid = self.get("uid", int, "an integer")
        gid = self.get("gid", int, "an integer")
        owner = self.get("owner", str, "a user name")
        group = self.get("group", str, "a group name")
        if owner is not None:
            if uid is not None:
                raise self.error("owner", "set either owner or uid, not both")
            try:
                uid = pwd.getpwnam(owner).pw_uid
            except KeyError:
                raise self.error("owner", f"no such user {owner!r}") from None
        if group is not None:
            if gid is not None:
                raise self.error("group", "set either group or gid, not both")
            try:
                gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise self.error("group", f"no such group {group!r}") from None

        reload_signal = self.get("reload_signal", str, 'a signal name such as "HUP"')
        if reload_signal is not None:
            reload_signal = reload_signal.upper().removeprefix("SIG")
            if reload_signal not in SIGNALS:
                raise self.error("reload_signal", f"unknown signal {reload_signal!r}")
        pidfile = self.get("pidfile", str, "a path")
        if reload_signal and not pidfile:
            raise self.error("reload_signal", "needs pidfile to know which process to signal")

        timeout = self.get("command_timeout", (str, int, float), 'a duration such as "30s"')
        validate = self.get("validate", str, "one of " + ", ".join(VALIDATORS))
        if validate is not None and validate not in VALIDATORS:
            raise self.error(
                "validate", f"must be one of {', '.join(VALIDATORS)}, got {validate!r}"
            )
        syntax = self.get("syntax", str, "jinja or go")
        if syntax is None:
            syntax = "go" if src_name.endswith(".tmpl") else "jinja"
        elif syntax not in SYNTAXES:
            raise self.error("syntax", f"must be jinja or go, got {syntax!r}")
        wait_text = self.get("wait", str, 'a "MIN:MAX" window such as "2s:10s"')
        interval = self.get("min_reload_interval", (str, int, float), 'a duration such as "1s"')

        try:
            command_timeout = 30.0 if timeout is None else parse_duration(timeout)
        except ValueError as e:
            raise self.error("command_timeout", str(e)) from None
        try:
            wait = parse_wait(wait_text) if wait_text else None
        except ValueError as e:
            raise self.error("wait", str(e)) from None
        try:
            min_reload_interval = None if interval is None else parse_duration(interval)
        except ValueError as e:
            raise self.error("min_reload_interval", str(e)) from None

        return TemplateResource(
            name=self.path.stem,
            path=self.path,
            src=src,
            dest=dest,
            keys=tuple(join_key("", k) for k in keys),
            prefix=_effective_prefix(self.global_prefix, own_prefix, syntax),
            mode=mode,
            uid=uid,
            gid=gid,
            check_cmd=self.command("check_cmd"),
            reload_cmd=self.command("reload_cmd"),
            restart_cmd=self.command("restart_cmd"),
            reload_signal=reload_signal,
            pidfile=Path(pidfile) if pidfile else None,
            command_timeout=command_timeout,
            exec_notify=bool(self.get("exec_notify", bool, "true or false") is not False),
            make_dirs=bool(self.get("make_dirs", bool, "true or false")),
            validate=validate,
            wait=wait,
            min_reload_interval=min_reload_interval,
            syntax=syntax,
        )

    def command(self, name: str) -> Command | None:
        value = self.get(name, (str, list), "a shell string or an array of arguments")
        if value is None:
            return None
        if isinstance(value, list):
            if not value or not all(isinstance(a, str) for a in value):
                raise self.error(name, "an array command must be a non-empty array of strings")
            return tuple(value)
        if not value.strip():
            raise self.error(name, "must not be empty")
        return value


def _line_of(text: str, name: str, *, table: bool = False) -> int | None:
    pattern = rf"^\s*\[\s*{re.escape(name)}\s*\]" if table else rf"^\s*{re.escape(name)}\s*="
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(pattern, line):
            return number
    return None


def _toml_error_line(e: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"at line (\d+)", str(e))
    return int(m.group(1)) if m else None


def _toml_error_text(e: tomllib.TOMLDecodeError) -> str:
    return re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(e)) or str(e)


def _closest(name: str, known: Iterable[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return matches[0] if matches else None
