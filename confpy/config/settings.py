"""Build frozen connection and logging settings once: flags > env > confpy.toml > defaults.

Nothing here talks to etcd; the CLI builds a `Settings` and hands it down.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from confpy.config.keys import normalize_prefix
from confpy.errors import ConfigError
from confpy.redact import redact_url

DEFAULT_CONFDIR = "/etc/confpy"
DEFAULT_ENDPOINT = "http://127.0.0.1:2379"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")

# Setting name -> environment variable. The password is read from the environment or a
# file, never required on the command line, so it never shows in `ps`.
ENVIRONMENT = {
    "endpoints": "CONFPY_ENDPOINTS",
    "confdir": "CONFPY_CONFDIR",
    "prefix": "CONFPY_PREFIX",
    "username": "CONFPY_USERNAME",
    "password": "CONFPY_PASSWORD",
    "password_file": "CONFPY_PASSWORD_FILE",
    "ca_file": "CONFPY_CA_FILE",
    "cert_file": "CONFPY_CERT_FILE",
    "key_file": "CONFPY_KEY_FILE",
    "log_level": "CONFPY_LOG_LEVEL",
    "log_format": "CONFPY_LOG_FORMAT",
}
# Keys allowed in CONFDIR/confpy.toml (confdir itself is where the file is found).
FILE_KEYS = frozenset(ENVIRONMENT) - {"confdir", "password"}
PATH_KEYS = frozenset({"ca_file", "cert_file", "key_file", "password_file"})


@dataclass(frozen=True)
class Endpoint:
    """One etcd client URL, split into what a connection needs."""

    host: str
    port: int
    secure: bool

    @property
    def netloc(self) -> str:
        """`host:port` as a URL and a Host header write it: an IPv6 address in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.netloc}"


@dataclass(frozen=True)
class Settings:
    """Where etcd is and how to talk to it; how to log. Built once, never mutated."""

    endpoints: tuple[Endpoint, ...] = field(
        default_factory=lambda: (parse_endpoint(DEFAULT_ENDPOINT),)
    )
    confdir: Path = Path(DEFAULT_CONFDIR)
    prefix: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    log_level: str = "info"
    log_format: str = "auto"


def parse_endpoint(url: str, *, source: str = "--endpoints") -> Endpoint:
    """Parse `http://host:port`, `https://host:port` or `host:port` (confd's `-node` form)."""
    text = url.strip()
    shown = redact_url(text)  # a password in the URL is never echoed
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed IPv6 bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source}: not an etcd URL: {shown!r} (use http://HOST:PORT)")
    try:
        port = parts.port or 2379
    except ValueError:
        raise ConfigError(f"{source}: bad port in {shown!r}") from None
    return Endpoint(host=parts.hostname, port=port, secure=parts.scheme == "https")


def parse_endpoints(
    value: str | list[str] | tuple[str, ...], *, source: str
) -> tuple[Endpoint, ...]:
    items: list[str] = []
    if not isinstance(value, str | list | tuple):
        raise ConfigError(
            f"{source}: endpoints must be a string or an array of strings, "
            f"not {type(value).__name__}"
        )
    for chunk in [value] if isinstance(value, str) else list(value):
        if not isinstance(chunk, str):
            raise ConfigError(f"{source}: endpoints must be strings")
        items.extend(p for p in chunk.split(",") if p.strip())
    if not items:
        raise ConfigError(f"{source}: no etcd endpoint given")
    return tuple(parse_endpoint(i, source=source) for i in items)


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags (None = not given), the environment, CONFDIR/confpy.toml and defaults."""
    env = os.environ if environ is None else environ
    confdir = _confdir(flags, env)
    raw = _layered(confdir, flags, env)
    values = _parsed(raw, confdir)
    if ("username" in values) != ("password" in values):
        raise ConfigError(
            "etcd authentication needs both a username and a password "
            "(CONFPY_PASSWORD or CONFPY_PASSWORD_FILE)"
        )
    if ("cert_file" in values) != ("key_file" in values):
        raise ConfigError("a client certificate needs both --cert-file and --key-file")
    return Settings(**values)


def _confdir(flags: Mapping[str, Any], env: Mapping[str, str]) -> Path:
    confdir_flag = flags.get("confdir")
    if confdir_flag is not None:
        return Path(confdir_flag)
    if env.get(ENVIRONMENT["confdir"]):
        return Path(env[ENVIRONMENT["confdir"]])
    return Path(DEFAULT_CONFDIR)


def _layered(
    confdir: Path, flags: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, tuple[Any, str]]:
    """Each given setting as (value, where it came from): flags over environment over file."""
    raw: dict[str, tuple[Any, str]] = {}
    settings_file = confdir / "confpy.toml"
    for name, (value, line) in _read_settings_file(settings_file).items():
        if name in PATH_KEYS and isinstance(value, str):
            # Paths in confpy.toml are relative to the file, not to where confpy was started.
            value = str(confdir / value)
        raw[name] = (value, f"{settings_file}:{line}" if line else str(settings_file))
    for name, var in ENVIRONMENT.items():
        if name != "confdir" and env.get(var):
            raw[name] = (env[var], var)
    for name in ENVIRONMENT:
        if name != "confdir" and flags.get(name) is not None:
            raw[name] = (flags[name], "--" + name.replace("_", "-"))
    # The password and the password file are one setting: the higher layer wins whichever
    # form it uses (a --password-file flag beats CONFPY_PASSWORD).
    if flags.get("password_file") is not None:
        raw.pop("password", None)
    return raw


def _parsed(raw: Mapping[str, tuple[Any, str]], confdir: Path) -> dict[str, Any]:
    """The layered settings checked and converted: Settings' keyword arguments."""
    values: dict[str, Any] = {"confdir": confdir}
    if "endpoints" in raw:
        value, source = raw["endpoints"]
        values["endpoints"] = parse_endpoints(value, source=source)
    if "prefix" in raw:
        values["prefix"] = normalize_prefix(_as_str(*raw["prefix"], "prefix"))
    if "username" in raw:
        values["username"] = _as_str(*raw["username"], "username")
    for name in ("ca_file", "cert_file", "key_file"):
        if name in raw:
            path = Path(_as_str(*raw[name], name))
            if not path.is_file():
                raise ConfigError(f"{raw[name][1]}: {name.replace('_', ' ')} {path} does not exist")
            values[name] = path
    password = _password(raw)
    if password is not None:
        values["password"] = password
    for name, allowed in (("log_level", LOG_LEVELS), ("log_format", LOG_FORMATS)):
        if name in raw:
            value = _as_str(*raw[name], name).lower()
            if value not in allowed:
                raise ConfigError(f"{raw[name][1]}: {name} must be one of {', '.join(allowed)}")
            values[name] = value
    return values


def _password(raw: Mapping[str, tuple[Any, str]]) -> str | None:
    """The password given as such, else read from the password file, else None."""
    if "password" in raw:
        return _as_str(*raw["password"], "password")
    if "password_file" not in raw:
        return None
    pw_path = Path(_as_str(*raw["password_file"], "password_file"))
    try:
        return pw_path.read_text().rstrip("\r\n")
    except OSError as e:
        raise ConfigError(
            f"{raw['password_file'][1]}: cannot read password file {pw_path}: {e.strerror}"
        ) from None


def _read_settings_file(path: Path) -> dict[str, tuple[Any, int | None]]:
    """Each setting in the file with the line it is on."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    text = text.removeprefix("\ufeff")  # a byte order mark, as confd.toml may have one
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML: {e}", file=str(path)) from None
    for key in data:
        if key not in FILE_KEYS:
            raise ConfigError(
                f"unknown setting {key!r} (known: {', '.join(sorted(FILE_KEYS))})",
                file=str(path),
                field=key,
            )
    lines = text.splitlines()
    return {key: (value, _line_of(lines, key)) for key, value in data.items()}


def _line_of(lines: list[str], key: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _as_str(value: Any, source: str, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {name} must be a string")
    return value
