"""`confpy check`: validate every resource and compile every template, without etcd."""

from __future__ import annotations

import argparse

from confpy.commands._common import connection_flags, exit_codes, settings_from
from confpy.errors import EXIT_OK

EXIT_CODES = exit_codes(
    ("0", "every resource loads and every template compiles"),
    (
        "2",
        "usage error, or a problem in a resource, template or setting (each one printed "
        "with its file and line)",
    ),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check",
        parents=[connection_flags()],
        help="validate resources and templates without contacting etcd",
        description="Read CONFDIR/conf.d/*.toml and compile every template in CONFDIR/templates, "
        "reporting every problem with its file and line. etcd is never contacted.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy import template_cache
    from confpy.runner import load_config

    settings = settings_from(args)
    template_cache.configure()
    config = load_config(settings.confdir, settings.prefix)
    names = ", ".join(r.name for r in config.resources)
    print(f"{len(config.resources)} resources OK in {settings.confdir}: {names}")
    return EXIT_OK
