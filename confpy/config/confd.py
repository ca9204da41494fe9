"""confd's configuration, as confd master builds it: its flags, confd.toml, its variables.

The order is confd's own (its `initConfig`), surprising as it is: defaults, then the
command line, then **confd.toml over the command line** for every key the file sets, then
`CONFD_CLIENT_CERT`/`KEY`/`CAKEYS` where neither set the value, then `ETCDCTL_PEERS` as
the nodes of `-backend etcd` when no node is given. The file is looked for at
`-config-file` (default `/etc/confd/confd.toml`) and skipped when absent. Its keys match
case-insensitively, as BurntSushi/toml matches them; a key confd does not know is
ignored by confd, and named in a warning here. Nothing here talks to a backend.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from confpy.errors import ConfigError
from confpy.golib.flag import Flag, Parsed, Value, parse

DEFAULT_CONFIG_FILE = "/etc/confd/confd.toml"

_OTHER = "read and ignored: an option of confd's {} backend, which confpy does not serve"


def _s(name: str, usage: str, default: str = "") -> Flag:
    return Flag(name, "string", default, usage)


def _b(name: str, usage: str) -> Flag:
    return Flag(name, "bool", False, usage)


FLAGS: tuple[Flag, ...] = (
    _s("app-id", _OTHER.format("vault")),
    _s("auth-token", _OTHER.format("vault/consul")),
    _s("auth-type", _OTHER.format("vault")),
    _s("backend", "backend to use: etcdv3, etcd (served by etcd's v3 API), env or file", "etcd"),
    _b("basic-auth", "use -username and -password to authenticate to etcd"),
    _s("client-ca-keys", "client ca keys (CA bundle for https nodes) [CONFD_CLIENT_CAKEYS]"),
    _s("client-cert", "the client cert [CONFD_CLIENT_CERT]"),
    _b("client-insecure", "accepted and ignored, as confd's etcd backends ignore it"),
    _s("client-key", "the client key [CONFD_CLIENT_KEY]"),
    _s("confdir", "confd conf directory", "/etc/confd"),
    _s("config-file", "the confd config file", DEFAULT_CONFIG_FILE),
    Flag("file", "list", (), "the YAML file to watch for changes (only used with -backend=file)"),
    _s("filter", "files filter (only used with -backend=file)", "*"),
    Flag("interval", "int", 600, "backend polling interval"),
    _b("keep-stage-file", "keep staged files"),
    _s("log-level", "level which confd should log messages"),
    Flag("node", "list", (), "list of backend nodes [ETCDCTL_PEERS with -backend=etcd]"),
    _b("noop", "only show pending changes"),
    _b("onetime", "run once and exit"),
    _s("password", "the password to authenticate with (only used with -basic-auth)"),
    _s("path", _OTHER.format("vault")),
    _s("prefix", "key path prefix"),
    _s("role-id", _OTHER.format("vault")),
    _s("scheme", "the URI scheme for nodes retrieved from DNS SRV records (http or https)", "http"),
    _s("secret-id", _OTHER.format("vault")),
    _s("separator", _OTHER.format("redis")),
    _s("srv-domain", "the name of the resource record"),
    _s("srv-record", "the SRV record to search for backends nodes, e.g. _etcd-client._tcp.a.com"),
    _b("sync-only", "sync without check_cmd and reload_cmd"),
    _s("table", _OTHER.format("dynamodb")),
    _s("user-id", _OTHER.format("vault")),
    _s("username", "the username to authenticate as (only used with -basic-auth)"),
    _b("version", "print version and exit"),
    _b("watch", "enable watch support"),
)
"""confd master's flags, its defaults and (for the supported ones) its help texts."""

FILE_KEYS: dict[str, str] = {
    # confd.toml key (lower case) -> flag it overrides; confd's struct tags, or the field
    # name where the field has no tag (`onetime`, `keepstagefile`).
    "app_id": "app-id",
    "auth_token": "auth-token",
    "auth_type": "auth-type",
    "backend": "backend",
    "basic_auth": "basic-auth",
    "client_cakeys": "client-ca-keys",
    "client_cert": "client-cert",
    "client_insecure": "client-insecure",
    "client_key": "client-key",
    "confdir": "confdir",
    "file": "file",
    "filter": "filter",
    "interval": "interval",
    "keepstagefile": "keep-stage-file",
    "log-level": "log-level",
    "nodes": "node",
    "noop": "noop",
    "onetime": "onetime",
    "password": "password",
    "path": "path",
    "prefix": "prefix",
    "role_id": "role-id",
    "scheme": "scheme",
    "secret_id": "secret-id",
    "separator": "separator",
    "srv_domain": "srv-domain",
    "srv_record": "srv-record",
    "sync-only": "sync-only",
    "table": "table",
    "user_id": "user-id",
    "username": "username",
    "watch": "watch",
}
NO_EFFECT_KEYS = frozenset({"configfile", "configdir", "templatedir", "printversion", "role"})
"""Fields confd's file may set that confd overwrites or never reads afterwards."""

_ENV_FALLBACKS = {
    "client-cert": "CONFD_CLIENT_CERT",
    "client-key": "CONFD_CLIENT_KEY",
    "client-ca-keys": "CONFD_CLIENT_CAKEYS",
}
_DEFAULT_NODES = {
    "etcdv3": ("127.0.0.1:2379",),
    "consul": ("127.0.0.1:8500",),
    "redis": ("127.0.0.1:6379",),
    "vault": ("http://127.0.0.1:8200",),
    "zookeeper": ("127.0.0.1:2181",),
}
_TOML_TYPE = {"bool": bool, "string": str, "int": int}


class ConfdConfig:
    """confd's settings after every layer, keyed by flag name (`values["node"]`).

    A plain class, not a dataclass, as `goflags.Flag`: treated as immutable.
    """

    __slots__ = ("config_file", "file_read", "values", "warnings")

    def __init__(
        self,
        values: Mapping[str, Value],
        config_file: Path,
        file_read: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.values = values
        self.config_file = config_file
        self.file_read = file_read
        self.warnings = warnings
        """Unknown confd.toml keys, one line each (confd ignores them silently)."""

    def text(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value

    def on(self, name: str) -> bool:
        return bool(self.values[name])

    def items(self, name: str) -> tuple[str, ...]:
        value = self.values[name]
        assert isinstance(value, tuple)
        return value

    @property
    def interval(self) -> int:
        value = self.values["interval"]
        assert isinstance(value, int)
        return value


def parse_command_line(argv: Sequence[str]) -> Parsed:
    """confd's flags from `argv` (raises goflags.FlagError / HelpRequested)."""
    return parse(FLAGS, argv)


def build(parsed: Parsed, environ: Mapping[str, str] | None = None) -> ConfdConfig:
    """Layer confd.toml and the environment over the command line, as confd does."""
    env = os.environ if environ is None else environ
    values = dict(parsed.values)
    config_file = Path(str(values["config-file"]))
    from_file, warnings = read_config_file(config_file)
    values.update(from_file)
    for name, var in _ENV_FALLBACKS.items():
        if not values[name] and env.get(var):
            values[name] = env[var]
    if not values["node"]:
        backend = str(values["backend"]) or "etcd"
        if backend == "etcd":
            peers = env.get("ETCDCTL_PEERS", "")
            values["node"] = tuple(peers.split(",")) if peers else ("http://127.0.0.1:4001",)
        else:
            values["node"] = _DEFAULT_NODES.get(backend, ())
    return ConfdConfig(values, config_file, config_file.exists(), tuple(warnings))


def read_config_file(path: Path) -> tuple[dict[str, Value], list[str]]:
    """The flags confd.toml sets, and a warning per key confd ignores; {} when absent."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(path)) from None
    import tomllib  # here, not at the top: `confd -help` reads no file

    try:
        # BurntSushi/toml skips a byte order mark (a file saved by a Windows editor).
        text = raw.decode("utf-8").removeprefix("\ufeff")
        data = tomllib.loads(text)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", file=str(path), line=line) from None
    except tomllib.TOMLDecodeError as e:
        # tomllib says "... (at line 3, column 7)": confpy's form is FILE:LINE: MESSAGE.
        m = re.search(r"\s*\(at line (\d+), column \d+\)", str(e))
        line = int(m.group(1)) if m else max(text.count("\n"), 1)
        message = str(e)[: m.start()] if m else str(e)
        raise ConfigError(f"invalid TOML: {message}", file=str(path), line=line) from None
    lines = text.splitlines()
    out: dict[str, Value] = {}
    warnings: list[str] = []
    kinds = {f.name: f.kind for f in FLAGS}
    for key, value in data.items():
        at = _line_of(lines, key)
        where = f"{path}:{at}" if at else str(path)
        name = FILE_KEYS.get(key.lower())
        if name is None:
            if key.lower() not in NO_EFFECT_KEYS:
                warnings.append(f"{where}: unknown key {key!r} ignored (as confd ignores it)")
            continue
        out[name] = _typed(value, kinds[name], where, key)
    return out, warnings


def _typed(value: object, kind: str, where: str, key: str) -> Value:
    """`value` if it has the type confd's field has; ConfigError naming file, line, key."""
    if kind == "list":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f'{where}: {key}: must be an array of strings, as ["..."]')
    expected = _TOML_TYPE[kind]
    if type(value) is not expected:
        word = {"bool": "true or false", "string": "a string", "int": "an integer"}[kind]
        raise ConfigError(f"{where}: {key}: must be {word}")
    assert isinstance(value, bool | str | int)
    return value


def _line_of(lines: list[str], key: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        for spelled in (key, f'"{key}"', f"'{key}'"):
            if stripped.startswith(spelled) and stripped[len(spelled) :].lstrip().startswith("="):
                return number
    return None
