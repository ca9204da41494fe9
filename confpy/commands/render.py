"""`confpy render`: bring every destination in line with etcd once, or keep it so."""

from __future__ import annotations

import argparse
import sys

from confpy.commands._common import (
    EXIT_CODES,
    connection_flags,
    duration_arg,
    settings_from,
    wait_arg,
)
from confpy.errors import EXIT_FAILED, EXIT_OK, ConfigError

DESCRIPTION = """\
Render every template resource in CONFDIR/conf.d/*.toml from etcd.

  --onetime   render once and exit (for systemd ExecStartPre= or a container start);
              with --wait-for-keys, wait for etcd and for every key the templates need
              instead of looping in shell around confd -onetime
  --watch     keep every file in sync: one watch on etcd, reload once per change set
  --interval  poll every DURATION instead of watching (confd's interval mode)
"""


def render_flags() -> argparse.ArgumentParser:
    """Flags shared by `render` and `exec`."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("rendering")
    g.add_argument(
        "--noop",
        action="store_true",
        help="print a unified diff of each pending change and write nothing "
        "(contents of owner-only files are shown as checksums)",
    )
    g.add_argument(
        "--sync-only",
        action="store_true",
        help="install files without running check or reload commands",
    )
    g.add_argument(
        "--keep-stage-file",
        action="store_true",
        help="leave stage files next to their destinations for inspection",
    )
    g.add_argument(
        "--wait-for-keys",
        type=duration_arg("--wait-for-keys"),
        default=0.0,
        metavar="DURATION",
        help="while etcd is unreachable or a key a template needs is missing, retry "
        "with exponential backoff for up to DURATION (e.g. 5m); exit 3 when it runs out",
    )
    w = p.add_argument_group("watching")
    w.add_argument(
        "--wait",
        type=wait_arg("--wait"),
        metavar="MIN:MAX",
        help="debounce: render once keys were quiet for MIN, at the latest MAX after "
        "the first change (consul-template's meaning; a resource's wait overrides)",
    )
    w.add_argument(
        "--resync-interval",
        type=duration_arg("--resync-interval"),
        default=600.0,
        metavar="DURATION",
        help="full re-render from a fresh snapshot this often (default 10m; 0 disables)",
    )
    w.add_argument(
        "--min-reload-interval",
        type=duration_arg("--min-reload-interval"),
        default=1.0,
        metavar="DURATION",
        help="while changes keep arriving, run each reload at most once per DURATION; "
        "files are still written at once, and an isolated change reloads at once "
        "(default 1s; 0 reloads on every change; a resource's min_reload_interval overrides)",
    )
    w.add_argument(
        "--max-lag",
        type=duration_arg("--max-lag"),
        default=30.0,
        metavar="DURATION",
        help="/healthz answers 503 when a change from etcd has waited longer than this "
        "to reach its file, or etcd was silent this long past its progress interval "
        "(default 30s)",
    )
    w.add_argument(
        "--health-addr",
        metavar="HOST:PORT",
        help="serve /healthz and /metrics (Prometheus) on this address",
    )
    return p


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "render",
        parents=[connection_flags(), render_flags()],
        help="render templates from etcd (once, watching, or polling)",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--onetime", action="store_true", help="render once and exit (the default)")
    mode.add_argument("--watch", action="store_true", help="watch etcd and keep files in sync")
    mode.add_argument(
        "--interval",
        type=duration_arg("--interval"),
        metavar="DURATION",
        help="re-read etcd and re-render every DURATION (e.g. 30s) instead of watching",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy import log
    from confpy.runner import RenderOptions, load_config, run_onetime
    from confpy.store import EtcdStore

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    options = RenderOptions(
        noop=args.noop,
        sync_only=args.sync_only,
        keep_stage_file=args.keep_stage_file,
        wait_for_keys=args.wait_for_keys,
    )
    config = load_config(settings.confdir, settings.prefix)
    if args.watch or args.interval is not None:
        if args.noop:
            raise ConfigError("--noop works with --onetime only")
        from confpy.daemon import run_daemon

        return run_daemon(settings, config, options, args)

    store = EtcdStore(settings)
    try:
        report = run_onetime(config, store, options)
    finally:
        store.close()
    for outcome in report.outcomes:
        if outcome.diff:
            sys.stdout.write(outcome.diff)
    for outcome in report.outcomes:
        if outcome.failed:
            print(f"confpy: error: {outcome.resource.name}: {outcome.error}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
