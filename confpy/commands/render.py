"""`confpy render`: bring every destination in line with etcd once, or keep it so."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from confpy.commands._common import (
    EXIT_CODES,
    address_arg,
    connection_flags,
    duration_flag,
    positive_duration_arg,
    settings_from,
    wait_arg,
)
from confpy.commands._fleet import fleet_flags
from confpy.errors import EXIT_FAILED, EXIT_OK, ConfigError

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from confpy.apply.report import Report
    from confpy.apply.runner import Config, RenderOptions
    from confpy.config.settings import Settings
    from confpy.store.snapshot import Store
    from confpy.watch.health import Status
    from confpy.watch.options import WatchOptions

DESCRIPTION = """\
Render every template resource in CONFDIR/conf.d/*.toml from etcd.

  --onetime   render once and exit (for systemd ExecStartPre= or a container start);
              with --wait-for-keys, wait for etcd and for every key the templates need
              instead of looping in shell around confd -onetime
  --watch     keep every file in sync: one watch on etcd, reload once per change set
  --interval  poll every DURATION instead of watching (confd's interval mode)
"""


def render_flags(noop: bool = True) -> argparse.ArgumentParser:
    """Flags shared by `render` and `exec` (which has no --noop: it always runs CMD)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("rendering")
    if noop:
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
    duration_flag(
        g,
        "--wait-for-keys",
        default=0.0,
        help="while etcd is unreachable or a key a template needs is missing, retry "
        "with exponential backoff for up to DURATION (e.g. 5m); exit 3 when it runs out",
    )
    g.add_argument(
        "--no-cache",
        action="store_true",
        help="compile every template instead of reusing compiled ones from the cache "
        "(~/.cache/confpy, /var/cache/confpy for root) [CONFPY_NO_CACHE=1]",
    )
    w = p.add_argument_group("watching")
    w.add_argument(
        "--wait",
        type=wait_arg("--wait"),
        metavar="MIN:MAX",
        help="debounce: render once keys were quiet for MIN, at the latest MAX after "
        "the first change (consul-template's meaning; a resource's wait overrides)",
    )
    duration_flag(
        w,
        "--resync-interval",
        default=600.0,
        help="full re-render from a fresh snapshot this often (default 10m; 0 disables)",
    )
    duration_flag(
        w,
        "--min-reload-interval",
        default=1.0,
        help="while changes keep arriving, run each reload at most once per DURATION; "
        "files are still written at once, and an isolated change reloads at once "
        "(default 1s; 0 reloads on every change; a resource's min_reload_interval overrides)",
    )
    duration_flag(
        w,
        "--max-lag",
        default=30.0,
        help="/healthz answers 503 when a change from etcd has waited longer than this "
        "to reach its file, or etcd was silent this long past its progress interval "
        "(default 30s)",
    )
    w.add_argument(
        "--health-addr",
        type=address_arg("--health-addr"),
        metavar="HOST:PORT",
        help="serve /healthz and /metrics (Prometheus) on this address",
    )
    return p


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "render",
        parents=[connection_flags(), render_flags(), fleet_flags()],
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
        type=positive_duration_arg("--interval"),
        metavar="DURATION",
        help="re-read etcd and re-render every DURATION (e.g. 30s) instead of watching",
    )
    fixtures = p.add_argument_group("without etcd (CI)")
    fixtures.add_argument(
        "--data",
        metavar="FILE",
        help="--onetime: read keys from FILE (JSON, or YAML unless it ends in .json) "
        "instead of etcd, which is not contacted",
    )
    fixtures.add_argument(
        "--stdout",
        action="store_true",
        help="--onetime: write nothing; print every rendered file to stdout in conf.d "
        "order, each after a line '==> DEST <=='",
    )
    backends = p.add_argument_group("other key sources (as confd's -backend)")
    backends.add_argument(
        "--backend",
        choices=("etcdv3", "etcd", "env", "file"),
        default="etcdv3",
        help="etcdv3/etcd: etcd (the default); env: environment variables (key /a/b is "
        "A_B); file: YAML files given with --file, watched for changes with --watch",
    )
    backends.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="--backend file: a YAML file, or a directory searched for them (repeatable)",
    )
    backends.add_argument(
        "--filter",
        default="*",
        metavar="GLOB",
        help="--backend file: in directories, read only files whose name matches (default *)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy import log
    from confpy.apply.onetime import run_onetime
    from confpy.apply.runner import RenderOptions, load_config
    from confpy.commands._stores import open_store
    from confpy.render import cache as template_cache

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    template_cache.configure(enabled=not args.no_cache)
    if args.file and args.backend != "file":
        raise ConfigError("--file is read by --backend file only")
    if args.data and args.backend != "etcdv3":
        raise ConfigError("--data and --backend exclude each other: --data is the key source")
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
        for flag in ("data", "stdout"):
            if getattr(args, flag, None):
                raise ConfigError(f"--{flag} works with --onetime only")
        on_etcd = args.backend in ("etcdv3", "etcd")
        if not on_etcd and args.report_prefix:
            raise ConfigError("--report-prefix publishes to etcd: it needs --backend etcdv3")
        store = open_store(args.backend, settings, args.file, args.filter)
        return watch_daemon(
            settings,
            config,
            watch_options(args, options),
            store,
            args.health_addr,
            fleet=args if on_etcd else None,
        )

    if args.report_prefix or args.report_id:
        raise ConfigError("--report-prefix and --report-id work with --watch or --interval")
    if getattr(args, "data", None) or getattr(args, "stdout", False):
        return _without_install(args, config, settings, options)
    store = open_store(args.backend, settings, args.file, args.filter)
    try:
        report = run_onetime(config, store, options)
    finally:
        store.close()
    return report_exit(report)


def watch_options(args: argparse.Namespace, render: RenderOptions) -> WatchOptions:
    """The daemon's options from `render_flags()` (shared with `exec`, which has no
    --interval)."""
    from confpy.watch.options import WatchOptions

    return WatchOptions(
        render=render,
        wait=args.wait,
        resync_interval=args.resync_interval,
        interval=getattr(args, "interval", None),
        min_reload_interval=args.min_reload_interval,
        max_lag=args.max_lag,
    )


def health_server(addr: str | None) -> tuple[Status, ThreadingHTTPServer | None]:
    """The daemon's status, served on `addr` (--health-addr) when one is given."""
    from confpy.watch.health import Status, serve

    status = Status()
    return status, serve(status, addr) if addr else None


def watch_daemon(
    settings: Settings,
    config: Config,
    options: WatchOptions,
    store: Store,
    health_addr: str | None = None,
    *,
    fleet: argparse.Namespace | None = None,
) -> int:
    """`render --watch|--interval` (and `confd`): the daemon on `store`, with signals,
    systemd, health and (given the `fleet_flags()`) the fleet wired."""
    import signal

    from confpy.apply.runner import load_config
    from confpy.commands._fleet import Fleet
    from confpy.watch import sdnotify
    from confpy.watch.daemon import Daemon
    from confpy.watch.options import Hooks

    status, server = health_server(health_addr)
    wired = None if fleet is None else Fleet(fleet, settings, status)
    watchdog = sdnotify.watchdog_interval()
    hooks = Hooks(
        load_config=lambda: load_config(settings.confdir, settings.prefix),
        on_ready=lambda: sdnotify.notify("READY=1\nSTATUS=files in sync"),
        watchdog=(watchdog, lambda: sdnotify.notify("WATCHDOG=1")) if watchdog else None,
        signals=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP),
        slots=None if wired is None else wired.slots,
    )
    daemon = Daemon(config, store, options, hooks, status=status)
    try:
        if wired is not None:
            wired.attach(daemon.pause)
            wired.start_report(lambda: daemon.config.resources)
        return daemon.run()
    finally:
        sdnotify.notify("STOPPING=1")
        if wired is not None:
            wired.close()
        if server is not None:
            server.shutdown()


def _without_install(
    args: argparse.Namespace, config: Config, settings: Settings, options: RenderOptions
) -> int:
    """--data (keys from a fixture file) and/or --stdout (print instead of install)."""
    from pathlib import Path

    from confpy.apply.onetime import run_onetime

    store: Store
    if args.data:
        from confpy.store.datafile import DataStore

        if options.wait_for_keys:
            raise ConfigError("--wait-for-keys: fixture data from --data never changes")
        store = DataStore.from_file(Path(args.data))
    else:
        from confpy.commands._stores import open_store

        store = open_store(args.backend, settings, args.file, args.filter)
    try:
        if not args.stdout:
            return report_exit(run_onetime(config, store, options))
        if args.noop:
            raise ConfigError("--stdout and --noop exclude each other: --stdout writes nothing")
        from confpy.apply.preview import render_to

        failures = render_to(config, store.snapshot(config.patterns), sys.stdout.buffer)
    finally:
        store.close()
    from confpy.log import error_line  # here, as every import of this module: see cli.py

    for name, error in failures.items():
        print(error_line(f"{name}: {error}"), file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_OK


def report_exit(report: Report) -> int:
    """Print each --noop diff and each failure; 0 when every resource is in sync, else 1."""
    from confpy.log import error_line

    for outcome in report.outcomes:
        if outcome.diff:
            sys.stdout.write(outcome.diff)
    for outcome in report.outcomes:
        if outcome.failed:
            print(error_line(f"{outcome.resource.name}: {outcome.error}"), file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
