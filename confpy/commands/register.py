"""`confpy register KEY VALUE --ttl N [-- CMD ...]`: keep a key in etcd while a service lives."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from confpy.commands._common import CMD_CODE, connection_flags, exit_codes, settings_from
from confpy.errors import ConfigError

DESCRIPTION = """\
Put KEY = VALUE in etcd under a lease of --ttl seconds and keep the lease alive
(refreshed every ttl/3), replacing `ExecStartPost=etcdctl set` / `ExecStopPost=etcdctl rm`.

  stopped (SIGTERM/SIGINT)   the lease is revoked: the key disappears at once
  killed or host lost        nothing refreshes the lease: the key expires after --ttl
  etcd away for a while      retried with backoff; if the lease expired meanwhile, the key
                             is registered again under a new lease as soon as etcd answers
  etcd failing otherwise     (out of space: the NOSPACE alarm; a refused login or role)
                             retried likewise, one log line per kind of failure, until an
                             operator fixes etcd

With `-- CMD ARGS...`, confpy starts CMD in its own session (as `confpy exec` does),
forwards signals (TERM, INT, HUP, QUIT, USR1, USR2, WINCH) to its process group, removes
the key when it exits and exits with its status (128+N if signal N ended it).

VALUE may come from --value-from-env VAR or --value-file FILE instead (a trailing newline
is dropped), so that it never shows in `ps`. The value is never logged. KEY is joined
after the global prefix (--prefix / CONFPY_PREFIX) as template keys are.

examples:
  confpy register /elasticsearch/host 10.0.0.5 --ttl 15 -- elasticsearch
  confpy register /services/web/$(hostname) --value-file /run/web.json --ttl 30
"""

EXIT_CODES = exit_codes(
    ("0", "stopped by SIGTERM or SIGINT (without CMD); the key is removed"),
    (
        "1",
        "CMD could not be started, or the registration thread died of an unexpected "
        "error (one line says which); etcd's errors are retried, never an exit",
    ),
    # Not USAGE: a refused login or role is retried like every etcd error (roles get fixed).
    ("2", "usage or configuration error"),
    CMD_CODE,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "register",
        parents=[connection_flags()],
        help="keep a key in etcd under a lease while this process or CMD runs",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key", metavar="KEY", help="the etcd key to register, e.g. /elasticsearch/host")
    p.add_argument(
        "value",
        metavar="VALUE",
        nargs="?",
        help="the value to store (or use --value-from-env / --value-file)",
    )
    p.add_argument(
        "--ttl",
        type=int,
        required=True,
        metavar="SECONDS",
        help="lease TTL: how long the key outlives a killed confpy (etcd enforces a "
        "minimum of about 2s)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--value-from-env", metavar="VAR", help="read VALUE from environment variable VAR"
    )
    src.add_argument("--value-file", metavar="FILE", help="read VALUE from FILE")
    p.add_argument(
        "cmd_argv",
        metavar="-- CMD",
        nargs="*",
        help="command to run; the key lives as long as it does",
    )
    p.set_defaults(func=run)
    _split_command_tail(p)


def _split_command_tail(parser: argparse.ArgumentParser) -> None:
    """Make everything after the first `--` the command, wherever the options stand.

    argparse fills KEY VALUE CMD greedily from the first run of positionals, so in
    `KEY VALUE --ttl 15 -- CMD` it would give CMD nothing and reject the tail. The
    subcommand parser is called through `parse_known_args`; this instance override splits
    the tail off first.
    """
    original = parser.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        items = list(args) if args is not None else []
        tail: list[str] = []
        if "--" in items:
            at = items.index("--")
            items, tail = items[:at], items[at + 1 :]
        namespace, extras = original(items, namespace)
        if tail:
            if namespace.cmd_argv:
                raise ConfigError(
                    f"register: unexpected argument {namespace.cmd_argv[0]!r} "
                    "before -- (put the command after --)"
                )
            namespace.cmd_argv = tail
        return namespace, extras

    # This one parser splits its arguments at `--` first; mypy forbids assigning a method.
    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def read_value(args: argparse.Namespace, environ: Any = None) -> bytes:
    """VALUE from exactly one of: the argument, --value-from-env, --value-file."""
    env = os.environ if environ is None else environ
    given = [x for x in (args.value is not None, args.value_from_env, args.value_file) if x]
    if len(given) != 1:
        raise ConfigError("register: give exactly one of VALUE, --value-from-env, --value-file")
    if args.value is not None:
        return str(args.value).encode()
    if args.value_from_env:
        if args.value_from_env not in env:
            raise ConfigError(f"--value-from-env: variable {args.value_from_env} is not set")
        return str(env[args.value_from_env]).encode()
    path = Path(args.value_file)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"--value-file: cannot read {path}: {e.strerror}") from None
    # Files written by `echo` end in a newline that is not part of the value.
    return data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data


def run(args: argparse.Namespace) -> int:
    from confpy import log
    from confpy.fleet.register import Registration, serve
    from confpy.store import EtcdStore

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    if args.ttl < 1:
        raise ConfigError("--ttl: must be at least 1 second")
    key = args.key.strip()
    if not key.startswith("/") or key == "/":
        raise ConfigError(f"register: KEY must be an absolute key like /service/host, not {key!r}")
    value = read_value(args)
    # A call that hangs longer than a refresh interval would let the lease lapse.
    store = EtcdStore(settings, timeout=max(1.0, min(5.0, args.ttl / 3)))
    logger = log.get_logger(__name__)
    code: int | str = "error"
    try:
        registration = Registration(store, settings.prefix + key, value, args.ttl)
        logger.info(
            "register starting",
            key=registration.key,
            ttl=registration.ttl,
            refresh_every=round(registration.interval, 2),
            endpoints=",".join(str(e) for e in settings.endpoints),
            command=args.cmd_argv[0] if args.cmd_argv else None,
        )
        code = serve(registration, args.cmd_argv)
        return code
    finally:
        store.close()
        logger.info("register stopped", key=settings.prefix + key, exit_code=code)
