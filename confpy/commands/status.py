"""`confpy status --report-prefix PREFIX`: the fleet's records, one line per daemon."""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import TYPE_CHECKING

from confpy.commands._common import (
    USAGE,
    connection_flags,
    duration_flag,
    exit_codes,
    settings_from,
)

if TYPE_CHECKING:
    from confpy.fleet.view import Host
    from confpy.store import EtcdStore

DESCRIPTION = """\
Read the status records daemons publish with `render --watch --report-prefix PREFIX`
(or `exec`), print one line per daemon and a summary, and exit 0 when every reporting
daemon is healthy. With --wait-revision R, each must also report that its files reflect
etcd revision R or later (the revision a write returned: `etcdctl put -w json`); confpy
watches the prefix until they do or --timeout runs out. A record is removed when its
daemon stops, and expires 30 s after its daemon was killed.
"""

EXIT_CODES = exit_codes(
    ("0", "every reporting daemon is healthy (and at --wait-revision or later)"),
    ("1", "some are not, or none reports: the last line names them"),
    USAGE,
    ("3", "etcd could not be reached"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "status",
        parents=[connection_flags()],
        help="show the fleet's status records (--report-prefix), wait for a revision",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--report-prefix", required=True, metavar="PREFIX")
    p.add_argument(
        "--wait-revision",
        type=int,
        metavar="R",
        help="wait until every daemon reports healthy at revision R or later",
    )
    duration_flag(
        p,
        "--timeout",
        help="how long to wait (default 60s with --wait-revision, else 0: one look)",
    )
    p.add_argument("--output", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy import log
    from confpy.commands._fleet import absolute_prefix
    from confpy.fleet.view import summary
    from confpy.store import EtcdStore

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    prefix = absolute_prefix("--report-prefix", args.report_prefix)
    want = args.wait_revision
    timeout = args.timeout if args.timeout is not None else (60.0 if want is not None else 0.0)
    store = EtcdStore(settings)
    try:
        hosts = _follow(store, prefix, want, time.monotonic() + timeout)
    finally:
        store.close()
    ordered = [hosts[k] for k in sorted(hosts)]
    ok, last = summary(ordered, want)
    if args.output == "json":
        body = {"ok": ok, "summary": last, "hosts": [h.as_json(want) for h in ordered]}
        print(json.dumps(body, sort_keys=True))
    else:
        for h in ordered:
            print(h.line(want))
        print(last)
    return 0 if ok else 1


def _follow(store: EtcdStore, prefix: str, want: int | None, deadline: float) -> dict[str, Host]:
    """The hosts under `prefix`, watched until all are ok or `deadline` passes."""
    from confpy.errors import StoreError
    from confpy.fleet.view import parse_host, summary

    revision, hosts = _read(store, prefix)
    while not summary(list(hosts.values()), want)[0] and time.monotonic() < deadline:
        stop = threading.Event()
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), stop.set)
        timer.daemon = True
        timer.start()
        try:
            for batch in store.watch([prefix], revision + 1, stop):
                revision = max(revision, batch.revision)
                for ev in batch.events:
                    key = ev.key[len(prefix) + 1 :]
                    if ev.value is None:
                        hosts.pop(key, None)
                    else:
                        hosts[key] = parse_host(key, ev.value)
                if batch.events and summary(list(hosts.values()), want)[0]:
                    break
        except StoreError:
            if time.monotonic() >= deadline:
                break
            stop.wait(0.5)  # etcd is away: read everything again, then watch again
            revision, hosts = _read(store, prefix)
        finally:
            timer.cancel()
            stop.set()
    return hosts


def _read(store: EtcdStore, prefix: str) -> tuple[int, dict[str, Host]]:
    from confpy.fleet.view import parse_host

    revision, entries = store.read_prefix(prefix)
    hosts = {}
    for e in entries:
        key = e.key[len(prefix) + 1 :]
        hosts[key] = parse_host(key, e.value)
    return revision, hosts
