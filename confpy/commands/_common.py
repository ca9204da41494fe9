"""Flags shared by every subcommand: where etcd is, how to log. Light imports only."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NoReturn, TypeVar

from confpy.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from confpy.config.settings import Settings

_T = TypeVar("_T")


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ConfigError (one line, exit 2), not SystemExit."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message}")


def exit_codes(*rows: tuple[str, str]) -> str:
    """A command's exit codes as its --help epilog lists them; tests/test_docs.py reads them.

    Each row is (code, meaning); the code `else` stands for the exit code of a command the
    subcommand runs (`exec`, `register -- CMD`).
    """
    import textwrap

    lines = ["exit codes:"]
    for code, meaning in rows:
        lines += textwrap.wrap(
            meaning, 86, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7
        )
    return "\n".join(lines) + "\n"


# Rows several commands share.
USAGE = ("2", "usage or configuration error, or etcd refused the login or the user's permissions")
CMD_CODE = ("else", "CMD's own exit code once it ran (128+N when signal N ended it)")

# `render`'s exit codes (this name is what render.py imports).
EXIT_CODES = exit_codes(
    ("0", "all resources in sync; --watch/--interval: stopped by SIGTERM or SIGINT"),
    ("1", "a resource failed: render, check, install or reload"),
    USAGE,
    (
        "3",
        "etcd unreachable or failing (e.g. auth on and no user given), or keys still "
        "missing when --wait-for-keys ran out",
    ),
)


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with the etcd and logging flags; each maps to a CONFPY_* variable."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("etcd connection (flags > environment > CONFDIR/confpy.toml)")
    g.add_argument(
        "--endpoints",
        "--node",
        dest="endpoints",
        action="append",
        metavar="URLS",
        help="etcd client URLs, comma-separated or repeated; --node is confd's name "
        "[CONFPY_ENDPOINTS, default http://127.0.0.1:2379]",
    )
    g.add_argument(
        "--confdir",
        metavar="DIR",
        help="holds confpy.toml, conf.d/ and templates/ [CONFPY_CONFDIR, default /etc/confpy]",
    )
    g.add_argument(
        "--prefix",
        metavar="KEY",
        help="global key prefix joined before every resource's keys [CONFPY_PREFIX]",
    )
    g.add_argument("--username", metavar="USER", help="etcd user [CONFPY_USERNAME]")
    g.add_argument(
        "--password-file",
        metavar="FILE",
        help="file holding the etcd password; or set CONFPY_PASSWORD "
        "(never given on the command line)",
    )
    g.add_argument(
        "--ca-file", metavar="FILE", help="CA bundle for https endpoints [CONFPY_CA_FILE]"
    )
    g.add_argument("--cert-file", metavar="FILE", help="client certificate [CONFPY_CERT_FILE]")
    g.add_argument("--key-file", metavar="FILE", help="client key [CONFPY_KEY_FILE]")
    lg = p.add_argument_group("logging")
    lg.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="[CONFPY_LOG_LEVEL, default info]",
    )
    lg.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="auto: console on a terminal, JSON lines otherwise [CONFPY_LOG_FORMAT]",
    )
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    # Imported here: `--help` builds every parser but reads no settings.
    from confpy.config.settings import load_settings

    flags = {
        name: getattr(args, name, None)
        for name in (
            "endpoints",
            "confdir",
            "prefix",
            "username",
            "password_file",
            "ca_file",
            "cert_file",
            "key_file",
            "log_level",
            "log_format",
        )
    }
    return load_settings(flags)


def duration_arg(flag: str) -> Callable[[str], float]:
    """An argparse `type=` that parses durations and names the flag in its error."""
    from confpy.config.durations import parse_duration

    return _flag_type(flag, parse_duration, "duration")


def duration_flag(
    group: argparse._ActionsContainer, flag: str, *, help: str, default: float | None = None
) -> None:
    """Add `flag` taking a DURATION (`5m`, `30s`), its error naming `flag`: the flag's name
    is written once, so the name in the message cannot drift from the flag's own."""
    group.add_argument(
        flag, type=duration_arg(flag), default=default, metavar="DURATION", help=help
    )


def positive_duration_arg(flag: str) -> Callable[[str], float]:
    """A duration that must be more than zero (`--interval 0` would never poll)."""
    from confpy.config.durations import parse_duration

    def parse(text: str) -> float:
        seconds = parse_duration(text)
        if not seconds > 0:
            raise ValueError(f"must be more than zero, got {text!r}")
        return seconds

    return _flag_type(flag, parse, "duration")


def address_arg(flag: str) -> Callable[[str], str]:
    """`HOST:PORT` with a port from 0 to 65535, checked before anything starts."""

    def parse(text: str) -> str:
        _host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if int(port) > 65535:
            raise ValueError(f"port {port} is out of range (0-65535)")
        return text

    return _flag_type(flag, parse, "address")


def wait_arg(flag: str) -> Callable[[str], tuple[float, float]]:
    """An argparse `type=` for consul-template's `MIN:MAX` debounce window."""
    from confpy.config.durations import parse_wait

    return _flag_type(flag, parse_wait, "wait")


def _flag_type(flag: str, parser: Callable[[str], _T], name: str) -> Callable[[str], _T]:
    """`parser` as an argparse type whose ValueError becomes a ConfigError naming `flag`."""

    def parse(text: str) -> _T:
        try:
            return parser(text)
        except ValueError as e:
            raise ConfigError(f"{flag}: {e}") from None

    parse.__name__ = name  # argparse names the type in its own messages
    return parse
