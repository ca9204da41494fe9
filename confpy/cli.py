"""The command line: parse arguments, build settings once, call a subcommand, map errors.

This is the single place that turns a `ConfpyError` into a one-line message and an exit
code. It imports subcommand modules, which import nothing heavy at module level, so
`confpy --help` and `confpy check` start without loading the etcd client.
"""

from __future__ import annotations

import os
import sys

from confpy import __version__
from confpy.errors import (
    EXIT_FAILED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    ConfigError,
    ConfpyError,
    StoreAccessError,
    StoreError,
    ValueEncodingError,
)

# typing.TYPE_CHECKING without importing typing (a tenth of `--version`'s start); mypy
# treats any name TYPE_CHECKING as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

COMMANDS = ("render", "check", "exec", "tls", "register", "convert", "demo", "confd", "status")

EXIT_CODE_BY_ERROR: tuple[tuple[type[ConfpyError], int], ...] = (
    # The first row the error is an instance of wins: subclasses before their parents.
    (StoreAccessError, EXIT_USAGE),  # refused credentials or roles: the operator must fix them
    (ValueEncodingError, EXIT_FAILED),  # a value, not etcd, is at fault
    (StoreError, EXIT_UNAVAILABLE),
    (ConfigError, EXIT_USAGE),
    (ConfpyError, EXIT_FAILED),
)
"""Which exit code each kind of error gives; documented in `confpy --help`."""


def exit_code_for(error: ConfpyError) -> int:
    """The exit code for `error`, from EXIT_CODE_BY_ERROR."""
    return next(code for kind, code in EXIT_CODE_BY_ERROR if isinstance(error, kind))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `only` the top level and that one subcommand.

    A run needs only its own subcommand's parser: building all of them costs more than the
    rest of `--help` (argparse looks up translations on disk for every parser).
    """
    import argparse
    import importlib

    from confpy.commands._common import CMD_CODE, USAGE, Parser, exit_codes

    summary = exit_codes(
        ("0", "success: all resources in sync, or the command did what it was asked"),
        (
            "1",
            "a resource or step failed: render, check, install, reload, a certificate "
            "that is not usable, a child that cannot start",
        ),
        USAGE,
        (
            "3",
            "etcd unreachable or failing, keys still missing when --wait-for-keys ran "
            "out, or a lost tls rotate race",
        ),
        ("else", "exec and register -- CMD: " + CMD_CODE[1]),
    )
    parser = Parser(
        prog="confpy",
        description="Keep configuration files in sync with etcd: render templates, "
        "reload services, rotate TLS keypairs, register services.",
        epilog=summary + "\nRun 'confpy COMMAND --help' for a command's options and its own "
        "exit codes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"confpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in [only] if only in COMMANDS else COMMANDS:
        module = importlib.import_module(f"confpy.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None and os.path.basename(sys.argv[0]) == "confd":
        # Installed under confd's name (a symlink named confd): confd's command line.
        from confpy.commands.confd import main as confd_main

        return confd_main(args_list, prog=sys.argv[0])
    if args_list[:1] == ["confd"]:
        # Go's flag syntax (-onetime, -node URL) is not argparse's: parsed there, not here.
        from confpy.commands.confd import main as confd_main

        return confd_main(args_list[1:])
    if args_list == ["--version"]:
        # What argparse would print, without loading it: a version check costs no more
        # than the interpreter's start (tests/test_imports.py holds it to that).
        print(f"confpy {__version__}")
        return 0
    try:
        parser = build_parser(args_list[0] if args_list else None)
        args = parser.parse_args(args_list)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args))
    except ConfpyError as e:
        _report(e)
        return exit_code_for(e)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _report(error: ConfpyError) -> None:
    from confpy.errors import ConfigProblems
    from confpy.log import error_line

    problems = error.problems if isinstance(error, ConfigProblems) else [error]
    for problem in problems:
        print(error_line(problem), file=sys.stderr)  # escaped: a key name may hold ESC
