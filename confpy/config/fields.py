"""The fields of a resource file's `[template]` table: what each may hold, and its checks.

`FieldParser` checks one table field by field and collects every problem, each naming its
field and line; `confpy.config.resource` reads the file and builds the `TemplateResource`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confpy.config import fleet as fleet_fields
from confpy.config.commands import refusal
from confpy.config.durations import parse_duration, parse_wait
from confpy.config.keys import join_key
from confpy.config.ownership import id_field, mode_field
from confpy.config.values import (
    JINJA_SUFFIXES,
    closest,
    effective_prefix,
    gid_of,
    line_of,
    shown,
    uid_of,
)
from confpy.errors import ConfigError, ConfigProblems, ConfpyError

Command = str | tuple[str, ...]
"""A string runs through `/bin/sh -c` as in confd; an array runs without a shell."""

VALIDATORS = ("json", "yaml", "toml")
SYNTAXES = ("jinja", "go")
# fmt: off
SIGNALS = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "WINCH", "ALRM", "CONT", "STOP",
           "TSTP", "KILL")
# fmt: on

EACH_NAME = re.compile(r"\{\{\s*name\s*\}\}")
"""`{{ name }}` in an `each` resource's dest."""
RELOAD_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")
ON_RELOAD_FAILURE = ("keep", "rollback")

KNOWN_FIELDS = frozenset(
    {
        *("src", "dest", "keys", "prefix", "mode", "uid", "gid", "owner", "group"),
        *("check_cmd", "reload_cmd", "restart_cmd", "reload_signal", "pidfile"),
        *("command_timeout", "exec_notify", "make_dirs", "validate", "wait", "syntax"),
        *("min_reload_interval", "secret", "fleet_group", "fleet_concurrency"),
        *("each", "reload_url", "reload_method", "min_bytes", "on_reload_failure"),
        "global_prefix_replaces",
    }
)


class FieldParser:
    """Field-by-field checks for one `[template]` table, each error naming its field and line."""

    def __init__(
        self, path: Path, text: str, table: dict[str, Any], templates_dir: Path, prefix: str
    ) -> None:
        self.path, self.text, self.table = path, text, table
        self.templates_dir, self.global_prefix = templates_dir, prefix
        # What loading lets pass (one line each); owner/group names this machine lacks.
        self.warnings: list[str] = []
        self.owner_names: dict[str, str] = {}

    def warn(self, name: str, message: str) -> None:
        self.warnings.append(str(self.error(name, message)))

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(
            f"{name}: {message}", file=str(self.path), line=line_of(self.text, name), field=name
        )

    def get(self, name: str, kinds: type | tuple[type, ...], what: str) -> Any:
        """The field's value, None when absent; a ConfigError when not of `kinds`."""
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

    def parse(self) -> dict[str, Any]:
        """Check every field; the TemplateResource's keyword arguments (but its name and
        path), or one ConfigError, or ConfigProblems listing them all."""
        problems: list[ConfigError] = []
        values: dict[str, Any] = {}
        for name, check in self._checks():
            try:
                values[name] = check()
            except ConfigProblems as e:
                problems.extend(p for p in e.problems if isinstance(p, ConfigError))
            except ConfigError as e:
                problems.append(e)
        try:
            dest = self.table.get("dest")
            each, reload_url, reload_method, min_bytes, on_failure = self._each_and_reload_fields(
                dest if isinstance(dest, str) else ""
            )
            values.update(
                each=each,
                reload_url=reload_url,
                reload_method=reload_method,
                min_bytes=min_bytes,
                on_reload_failure=on_failure,
            )
        except ConfigError as e:
            problems.append(e)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise ConfigProblems(list(problems))
        return values

    def _checks(self) -> list[tuple[str, Callable[[], Any]]]:
        """(TemplateResource field, check) for every field; a check raises ConfigError."""
        return [
            ("src", self._unknown_and_required_then_src),
            ("dest", self._dest),
            ("keys", self._keys),
            ("prefix", self._prefix),
            ("mode", lambda: mode_field(self)),
            ("uid", lambda: id_field(self, "uid", "owner", uid_of)),
            ("gid", lambda: id_field(self, "gid", "group", gid_of)),
            ("check_cmd", lambda: self.command("check_cmd")),
            ("reload_cmd", lambda: self.command("reload_cmd")),
            ("restart_cmd", lambda: self.command("restart_cmd")),
            ("reload_signal", self._reload_signal),
            ("pidfile", self._pidfile),
            ("command_timeout", self._command_timeout),
            ("exec_notify", lambda: self.get("exec_notify", bool, "true or false") is not False),
            ("make_dirs", lambda: bool(self.get("make_dirs", bool, "true or false"))),
            ("secret", lambda: bool(self.get("secret", bool, "true or false"))),
            ("validate", self._validate),
            ("wait", self._wait),
            ("min_reload_interval", self._min_reload_interval),
            ("syntax", self._syntax),
            ("fleet", lambda: fleet_fields.check(self)),
        ]

    def _unknown_and_required_then_src(self) -> Path:
        problems: list[ConfpyError] = []
        for name in self.table:
            if name not in KNOWN_FIELDS:
                hint = closest(name, KNOWN_FIELDS)
                self.warnings.append(
                    f"{self.path}:{line_of(self.text, name)}: {shown(name)}: unknown field, "
                    "ignored" + (f" (did you mean {hint!r}?)" if hint else "")
                )
        for required in ("src", "dest"):
            if required not in self.table:
                problems.append(
                    ConfigError(
                        f"{required}: required field is missing",
                        file=str(self.path),
                        field=required,
                    )
                )
        try:
            src = self._src()
        except ConfigProblems as e:  # none: a missing src is reported just above
            problems.extend(e.problems)
        except ConfigError as e:
            problems.append(e)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise ConfigProblems(problems)
        return src

    def _src(self) -> Path:
        src_name = self.get("src", str, "a file name under templates/")
        if src_name is None:
            raise ConfigProblems([])
        if not src_name:
            raise self.error("src", "must not be empty")
        # confd joins src to the templates directory (filepath.Join): `/x.tmpl` is
        # templates/x.tmpl. A `..` that leaves templates/ is refused, as before.
        relative = Path(src_name.lstrip("/") or src_name)
        if relative.is_absolute() or ".." in relative.parts:
            raise self.error(
                "src", f"must name a file under {self.templates_dir}, got {src_name!r}"
            )
        src = self.templates_dir / relative
        if not src.is_file():
            raise self.error("src", f"template file {src} does not exist")
        return src

    def _dest(self) -> Path:
        dest_name = self.get("dest", str, "an absolute path")
        if dest_name is None:
            raise ConfigProblems([])
        if not dest_name:
            raise self.error("dest", "must not be empty")
        if not dest_name.startswith("/"):
            # confd writes a relative dest relative to its working directory: so does confpy.
            self.warn("dest", f"relative path {dest_name!r}: written under the working directory")
            return Path(os.path.abspath(dest_name))
        return Path(dest_name)

    def _keys(self) -> tuple[str, ...]:
        keys = self.get("keys", list, "an array of keys")
        if not keys:
            return ()  # missing or [] reads nothing, as in confd
        if not all(isinstance(k, str) for k in keys):
            raise self.error("keys", "must be an array of strings")
        # `""` is confd's path.Join(prefix, ""): the whole prefix, as "/" is.
        return tuple(join_key("", k) for k in keys)

    def _prefix(self) -> str:
        own_prefix = self.get("prefix", str, "a string") or ""
        replaces = self.get("global_prefix_replaces", bool, "true or false")
        if replaces is None:
            try:
                replaces = self._syntax() == "go"
            except ConfigError:
                replaces = False  # reported by the syntax check
        return effective_prefix(self.global_prefix, own_prefix, replaces=replaces)

    def _reload_signal(self) -> str | None:
        reload_signal: str | None = self.get("reload_signal", str, 'a signal name such as "HUP"')
        if reload_signal is None:
            return None
        reload_signal = reload_signal.upper().removeprefix("SIG")
        if reload_signal not in SIGNALS:
            raise self.error("reload_signal", f"unknown signal {reload_signal!r}")
        if not self.table.get("pidfile"):
            raise self.error("reload_signal", "needs pidfile to know which process to signal")
        return reload_signal

    def _pidfile(self) -> Path | None:
        pidfile = self.get("pidfile", str, "a path")
        return Path(pidfile) if pidfile else None

    def _command_timeout(self) -> float:
        timeout = self.get("command_timeout", (str, int, float), 'a duration such as "30s"')
        try:
            return 30.0 if timeout is None else parse_duration(timeout)
        except ValueError as e:
            raise self.error("command_timeout", str(e)) from None

    def _validate(self) -> str | None:
        validate: str | None = self.get("validate", str, "one of " + ", ".join(VALIDATORS))
        if validate is not None and validate not in VALIDATORS:
            raise self.error(
                "validate", f"must be one of {', '.join(VALIDATORS)}, got {validate!r}"
            )
        return validate

    def _wait(self) -> tuple[float, float] | None:
        wait_text = self.get("wait", str, 'a "MIN:MAX" window such as "2s:10s"')
        try:
            return parse_wait(wait_text) if wait_text else None
        except ValueError as e:
            raise self.error("wait", str(e)) from None

    def _min_reload_interval(self) -> float | None:
        interval = self.get("min_reload_interval", (str, int, float), 'a duration such as "1s"')
        try:
            return None if interval is None else parse_duration(interval)
        except ValueError as e:
            raise self.error("min_reload_interval", str(e)) from None

    def _syntax(self) -> str:
        syntax: str | None = self.get("syntax", str, "jinja or go")
        if syntax is None:
            src_name = self.table.get("src")
            jinja = isinstance(src_name, str) and src_name.endswith(JINJA_SUFFIXES)
            return "jinja" if jinja else "go"
        if syntax not in SYNTAXES:
            raise self.error("syntax", f"must be jinja or go, got {syntax!r}")
        return syntax

    def _each_and_reload_fields(self, dest: str) -> tuple[str | None, str | None, str, int, str]:
        """each, reload_url, reload_method, min_bytes, on_reload_failure, checked."""
        each = self._each(dest)
        reload_url = self._reload_url()
        method = self.get("reload_method", str, "an HTTP method such as POST")
        if method is not None:
            if method.upper() not in RELOAD_METHODS:
                raise self.error(
                    "reload_method", f"must be one of {', '.join(RELOAD_METHODS)}, got {method!r}"
                )
            if reload_url is None:
                raise self.error("reload_method", "needs reload_url")
        min_bytes = self.get("min_bytes", int, "a number of bytes")
        if min_bytes is not None and min_bytes < 0:
            raise self.error("min_bytes", f"must be 0 or more, got {min_bytes}")
        on_failure = self.get("on_reload_failure", str, '"keep" or "rollback"')
        if on_failure is not None and on_failure not in ON_RELOAD_FAILURE:
            raise self.error(
                "on_reload_failure", f'must be "keep" or "rollback", got {on_failure!r}'
            )
        return each, reload_url, (method or "POST").upper(), min_bytes or 0, on_failure or "keep"

    def _each(self, dest: str) -> str | None:
        """The `each` glob, rooted, checked together with the `{{ name }}` in `dest`."""
        each: str | None = self.get("each", str, 'a key glob such as "/services/*"')
        if each is not None:
            if not each.strip("/ "):
                raise self.error("each", 'must name keys below the prefix, e.g. "/services/*"')
            each = join_key("", each)
            if "[" in each and "]" not in each:
                raise self.error("each", f"bad glob pattern {each!r}: unclosed [")
            head, _, last = dest.rpartition("/")
            if EACH_NAME.search(head):
                raise self.error(
                    "dest", "{{ name }} may only appear in the file name, not in a directory"
                )
            if not EACH_NAME.search(last):
                raise self.error("dest", "an each resource's dest must contain {{ name }}")
        elif EACH_NAME.search(dest):
            raise self.error("dest", '{{ name }} needs each = "PATTERN" to say what it stands for')
        leftover = EACH_NAME.sub("", dest)
        if each is not None and ("{{" in leftover or "}}" in leftover):
            raise self.error("dest", "only {{ name }} is substituted in dest")
        return each

    def _reload_url(self) -> str | None:
        reload_url: str | None = self.get(
            "reload_url", str, 'a URL such as "http://127.0.0.1:8080/-/reload"'
        )
        if reload_url is not None:
            if "{{" in reload_url or "}}" in reload_url:
                raise self.error(
                    "reload_url", "must not contain {{ }}: no value is substituted in the URL"
                )
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(reload_url)
                parts.port  # noqa: B018 - raises ValueError on a bad port
            except ValueError as e:
                raise self.error("reload_url", f"not a URL: {e}") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.error("reload_url", "must be an http:// or https:// URL with a host")
        return reload_url

    def command(self, name: str) -> Command | None:
        value: str | list[str] | None = self.get(
            name, (str, list), "a shell string or an array of arguments"
        )
        if value is None:
            return None
        if isinstance(value, list):
            if not value or not all(isinstance(a, str) for a in value):
                raise self.error(name, "an array command must be a non-empty array of strings")
            command: str | tuple[str, ...] = tuple(value)
        elif not value.strip():
            return None  # confd: "" is no command
        else:
            command = value
        if problem := refusal(command):
            raise self.error(name, problem)
        return command
