"""`confpy confd ARGS...`: confd's own command line, translated onto confpy's machinery.

A unit file or Dockerfile that runs `confd -onetime -backend etcdv3 -node URL -confdir
DIR` works with `confpy confd` in place of `confd` (or with confpy installed under the
name `confd`, see docs/migrating-from-confd.md). The flags are parsed as Go's flag
package parses them (`confpy.golib.flag`), layered with confd.toml and confd's variables as
confd does (`confpy.config.confd`), then handed to the same onetime run and daemon as
`confpy render`. Exit codes are confd's: 0, 1 for any failure, 2 for a bad command line.
"""

from __future__ import annotations

import sys

from confpy.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError, ConfpyError

# typing.TYPE_CHECKING without importing typing (a tenth of `--version`'s start); mypy
# treats any name TYPE_CHECKING as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path

    from confpy.config.confd import ConfdConfig
    from confpy.config.settings import Endpoint, Settings
    from confpy.store.snapshot import Store
    from confpy.watch.options import WatchOptions

CONFD_VERSION = "0.17.0-dev"
"""The confd release whose command line this follows (master, commit 919444e)."""

SUPPORTED_BACKENDS = ("etcdv3", "etcd", "env", "file")

# logrus's level names (what confd's -log-level takes) -> confpy's.
_LOG_LEVELS = {
    "panic": "error",
    "fatal": "error",
    "error": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Listed in `confpy --help` only: `cli.main` hands `confd` its arguments unparsed."""
    from confpy.commands._common import exit_codes

    subparsers.add_parser(
        "confd",
        help="run with confd's own command line (-onetime -backend etcdv3 -node URL ...); "
        "'confpy confd -help' lists its flags",
        add_help=False,
        epilog=exit_codes(
            ("0", "all resources in sync, or -version/-help; -watch/polling: stopped by "
             "SIGTERM or SIGINT"),
            ("1", "any failure, as in confd: a resource, confd.toml, an unsupported backend, "
             "etcd unreachable"),
            ("2", "a command line Go's flag package rejects (Go's words, one line)"),
        ),
    )  # fmt: skip


def main(argv: Sequence[str], prog: str = "confpy confd") -> int:
    """Run `confd ARGV`; the exit code confd would give."""
    if list(argv) in (["-version"], ["--version"]):
        # The flag table is not needed to print a version: start as fast as confd does.
        print(version_line())
        return EXIT_OK
    from confpy.config.confd import FLAGS, build, parse_command_line
    from confpy.golib.flag import FlagError, HelpRequested, usage

    try:
        parsed = parse_command_line(argv)
    except HelpRequested:
        sys.stderr.write(usage(FLAGS, prog))
        return EXIT_OK
    except FlagError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    if parsed.values["version"]:
        print(version_line())
        return EXIT_OK
    try:
        return run(build(parsed), parsed.args)
    except ConfpyError as e:
        from confpy.log import error_line  # here: -help and -version do not load logging

        print(error_line(e), file=sys.stderr)  # escaped: a key name may hold ESC
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def version_line() -> str:
    """Like `confd -version`'s line, saying what answers."""
    from confpy import __version__

    python = sys.version.split()[0]  # platform.python_version() without loading platform
    return (
        f"confd {CONFD_VERSION} (confpy {__version__} with confd's command line, Python {python})"
    )


def run(config: ConfdConfig, extra_args: Sequence[str] = ()) -> int:
    from confpy import log
    from confpy.render import cache as template_cache

    level = _log_level(config.text("log-level"))
    log.configure(level, _log_format())
    template_cache.configure()  # as `render` does: compiled templates reused across runs
    logger = log.get_logger(__name__)
    for warning in config.warnings:
        logger.warning(warning)
    if extra_args:
        logger.warning("arguments after the flags are ignored, as confd ignores them",
                       count=len(extra_args))  # fmt: skip
    backend = config.text("backend") or "etcd"
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"-backend {backend}: not supported by confpy confd; "
            f"use one of {', '.join(SUPPORTED_BACKENDS)}"
        )
    settings = confd_settings(config, backend, level)
    logger.info(
        "confd command line",
        backend=backend,
        nodes=[str(e) for e in settings.endpoints] if backend.startswith("etcd") else None,
        files=list(config.items("file")) if backend == "file" else None,
        confdir=str(settings.confdir),
        config_file=str(config.config_file) if config.file_read else None,
    )
    if backend == "etcd":
        logger.info(
            "backend etcd: confd's etcd (v2 API) backend is served through etcd's v3 API, "
            "as confd master does; the keys are etcd v3 keys"
        )
    if not settings.confdir.exists() or _no_resources(settings.confdir):
        # confd: "Cannot load template resources: confdir '...' does not exist" or "Found
        # no templates", and exit 0: a container may start before its config is mounted.
        logger.warning("no template resources", confdir=str(settings.confdir))
        return EXIT_OK
    mode = _mode(config)
    return _render(config, settings, open_store(config, backend, settings), mode)


def _no_resources(confdir: Path) -> bool:
    """conf.d is a directory without a `*toml` file anywhere below it (confd's lookup)."""
    confd = confdir / "conf.d"
    return confd.is_dir() and not any(p.is_file() for p in confd.rglob("*toml"))


def _mode(config: ConfdConfig) -> WatchOptions:
    """How to run: once (-onetime, which uses only the render options), watching (-watch),
    or polling every -interval seconds (confd's default)."""
    from confpy.apply.runner import RenderOptions
    from confpy.watch.options import WatchOptions

    options = RenderOptions(
        noop=config.on("noop"),
        sync_only=config.on("sync-only"),
        keep_stage_file=config.on("keep-stage-file"),
    )
    if config.on("onetime"):
        return WatchOptions(render=options)
    if options.noop:
        raise ConfigError("-noop works with -onetime only in confpy confd")
    if config.on("watch"):
        return WatchOptions(render=options)
    if config.interval < 1:
        raise ConfigError(f"-interval {config.interval}: must be at least 1 (seconds)")
    return WatchOptions(render=options, interval=float(config.interval))


def _render(config: ConfdConfig, settings: Settings, store: Store, mode: WatchOptions) -> int:
    """-onetime, -watch or (neither) polling every -interval, on `store`."""
    from confpy.apply.runner import load_config
    from confpy.commands.render import report_exit, watch_daemon

    try:
        loaded = load_config(settings.confdir, settings.prefix)
        if config.on("onetime"):
            from confpy.apply.onetime import run_onetime

            return report_exit(run_onetime(loaded, store, mode.render))
        return watch_daemon(settings, loaded, mode, store)
    finally:
        store.close()


def _prefix(text: str) -> str:
    """confd's -prefix: any non-empty one replaces a resource's own, even `/` (the root)."""
    from confpy.config.keys import normalize_prefix

    return normalize_prefix(text) or ("/" if text.strip() else "")


def confd_settings(config: ConfdConfig, backend: str, level: str) -> Settings:
    """confpy's connection settings from confd's: nodes, TLS files, basic auth, prefix."""
    from pathlib import Path

    from confpy.config.settings import Settings

    ca, cert, key = (_file(config, n) for n in ("client-ca-keys", "client-cert", "client-key"))
    if (cert is None) != (key is None):
        cert = key = None  # confd uses a client certificate only when given both
    username = password = None
    if config.on("basic-auth") and config.text("username"):
        username, password = config.text("username"), config.text("password")
    elif config.text("username") and backend.startswith("etcd"):
        from confpy.log import get_logger

        get_logger(__name__).warning(
            "-username is used with -basic-auth only, as in confd: not logging in"
        )
    return Settings(
        endpoints=_endpoints(config, backend, tls=bool(ca or cert)),
        confdir=Path(config.text("confdir")),
        prefix=_prefix(config.text("prefix")),
        username=username,
        password=password,
        ca_file=ca,
        cert_file=cert,
        key_file=key,
        log_level=level,
        log_format=_log_format(),
    )


def _endpoints(config: ConfdConfig, backend: str, *, tls: bool) -> tuple[Endpoint, ...]:
    from confpy.config.settings import parse_endpoint
    from confpy.redact import redact_url

    if not backend.startswith("etcd"):
        return (parse_endpoint("127.0.0.1:2379"),)
    nodes = list(config.items("node"))
    record = config.text("srv-record")
    if not record and config.text("srv-domain"):
        record = f"_{backend}._tcp.{config.text('srv-domain')}."
    if record:
        nodes = _srv_nodes(record, config.text("scheme") if backend == "etcd" else "")
    out = []
    for node in nodes:
        url = node if "://" in node or not tls else "https://" + node
        try:
            out.append(parse_endpoint(url, source="-node"))
        except ConfigError:
            raise ConfigError(f"-node: not an etcd URL: {redact_url(node)}") from None
        if redact_url(node) != node:
            from confpy.log import get_logger

            get_logger(__name__).warning(
                "-node: the user and password in a node URL are not used; "
                "give -basic-auth -username -password",
                node=redact_url(node),
            )
    if not out:
        raise ConfigError("-node: no etcd node given")
    return tuple(out)


def _srv_nodes(record: str, scheme: str) -> list[str]:
    """confd's nodes from DNS SRV records: `host:port`, prefixed with the scheme for etcd."""
    try:
        import dns.exception
        import dns.resolver
    except ImportError:  # pragma: no cover - dnspython is a dependency
        raise ConfigError("-srv-record needs the dnspython package") from None
    try:
        answer = dns.resolver.resolve(record, "SRV")
    except dns.exception.DNSException as e:
        raise ConfigError(
            f"Cannot get nodes from SRV records {record}: {type(e).__name__}"
        ) from None
    nodes = [f"{str(r.target).rstrip('.')}:{r.port}" for r in answer]
    return [f"{scheme}://{n}" for n in nodes] if scheme else nodes


def _file(config: ConfdConfig, name: str) -> Path | None:
    from pathlib import Path

    value = config.text(name)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"-{name}: {path} does not exist")
    return path


def _log_level(text: str) -> str:
    if not text:
        return "info"
    level = _LOG_LEVELS.get(text.lower())
    if level is None:
        raise ConfigError(f'not a valid level: "{text}"')
    return level


def _log_format() -> str:
    """confd has no log format flag: CONFPY_LOG_FORMAT chooses, else auto."""
    import os

    fmt = os.environ.get("CONFPY_LOG_FORMAT", "auto")
    return fmt if fmt in ("auto", "json", "console") else "auto"


def open_store(config: ConfdConfig, backend: str, settings: Settings) -> Store:
    """The store confd's -backend names."""
    from confpy.commands._stores import open_store as open_backend

    return open_backend(backend, settings, config.items("file"), config.text("filter"))
