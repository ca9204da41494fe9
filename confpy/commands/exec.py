"""`confpy exec -- CMD`: a container entrypoint that renders, supervises and reloads a service."""

from __future__ import annotations

import argparse
import sys

from confpy.commands._common import (
    CMD_CODE,
    USAGE,
    connection_flags,
    duration_flag,
    exit_codes,
    settings_from,
)
from confpy.errors import ConfigError

DESCRIPTION = """\
Render every template resource (waiting for keys with --wait-for-keys), then start CMD in
its own session and keep the files in sync like `render --watch`. When a change set
installs files, CMD's process group gets the reload signal (default HUP), or with
--restart CMD is stopped and started again. SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
SIGUSR2 and SIGWINCH are forwarded to CMD; every exited child is reaped, so confpy is
safe as PID 1. When CMD exits, confpy exits with its code (128+N for signal N), unless
--respawn is given. If the first render fails, CMD is never started.

  ENTRYPOINT ["confpy", "exec", "--wait-for-keys", "5m", "--reload-signal", "HUP", "--"]
  CMD ["logstash-forwarder", "-config", "/etc/logstash-forwarder.json"]
"""

EXIT_CODES = exit_codes(
    ("1", "the first render failed (CMD was not started), or CMD could not be started"),
    USAGE,
    (
        "3",
        "before CMD started: etcd unreachable or failing, or keys still missing when "
        "--wait-for-keys ran out",
    ),
    CMD_CODE,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from confpy.commands._fleet import fleet_flags
    from confpy.commands.render import render_flags

    p = subparsers.add_parser(
        "exec",
        parents=[connection_flags(), render_flags(noop=False), fleet_flags()],
        help="render, then run and supervise a command, reloading it on changes",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("process control")
    how = g.add_mutually_exclusive_group()
    how.add_argument(
        "--reload-signal",
        default="HUP",
        metavar="SIG",
        help="signal sent to CMD's process group after files change (default HUP)",
    )
    how.add_argument(
        "--restart",
        action="store_true",
        help="stop CMD (kill signal, then SIGKILL after the kill timeout) and start it again",
    )
    g.add_argument(
        "--kill-signal",
        default="TERM",
        metavar="SIG",
        help="signal that asks CMD to stop (default TERM)",
    )
    duration_flag(
        g,
        "--kill-timeout",
        default=10.0,
        help="wait this long for CMD to stop before SIGKILL (10s)",
    )
    g.add_argument(
        "--respawn",
        action="store_true",
        help="start CMD again when it exits on its own, instead of exiting",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal

    from confpy import log
    from confpy.apply.onetime import run_onetime
    from confpy.apply.runner import RenderOptions, load_config
    from confpy.commands.render import health_server, watch_options
    from confpy.config.resource import TemplateResource
    from confpy.errors import EXIT_FAILED, ConfpyError
    from confpy.render import cache as template_cache
    from confpy.store import EtcdStore
    from confpy.supervise.supervisor import Supervisor
    from confpy.wakeup import Wakeup, call_answering_signals
    from confpy.watch.daemon import Daemon
    from confpy.watch.options import Hooks
    from confpy.workers import Worker

    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise ConfigError("exec: no command given (put it after --)")

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    template_cache.configure(enabled=not args.no_cache)
    logger = log.get_logger(__name__)
    supervisor = Supervisor(
        argv,
        reload_signal=None if args.restart else args.reload_signal,
        restart=args.restart,
        kill_signal=args.kill_signal,
        kill_timeout=args.kill_timeout,
        respawn=args.respawn,
    )
    config = load_config(settings.confdir, settings.prefix)
    options = RenderOptions(
        sync_only=args.sync_only,
        keep_stage_file=args.keep_stage_file,
        wait_for_keys=args.wait_for_keys,
    )

    # Until the child exists, SIGTERM/SIGINT simply end confpy: at once while waiting for
    # keys, after the install under way otherwise, and the child is never started.
    early = Wakeup((signal.SIGTERM, signal.SIGINT))

    def sleep_or_stop(seconds: float) -> None:
        for sig in early.wait(seconds):
            raise SystemExit(128 + sig)

    store = EtcdStore(settings)

    def stop_early(caught: list[signal.Signals]) -> None:
        for sig in caught:
            store.close()  # ends the read under way at once
            raise SystemExit(128 + sig)

    with early:
        # The first render runs beside a loop that still hears signals.
        report = call_answering_signals(
            early, stop_early, lambda: run_onetime(config, store, options, sleep=sleep_or_stop)
        )
        stop_early(early.poll())
    if not report.ok:
        for o in report.outcomes:
            if o.failed:
                print(log.error_line(f"{o.resource.name}: {o.error}"), file=sys.stderr)
        print(log.error_line(f"not starting {argv[0]}: the first render failed"), file=sys.stderr)
        store.close()
        return EXIT_FAILED

    def changed(resources: list[TemplateResource]) -> None:
        if any(r.exec_notify for r in resources):
            supervisor.notify()

    from confpy.commands._fleet import Fleet

    status, server = health_server(args.health_addr)
    fleet = Fleet(args, settings, status)
    hooks = Hooks(
        load_config=lambda: load_config(settings.confdir, settings.prefix),
        # The child's reload is one more reload action: files it reads (exec_notify) are
        # installed all or nothing, and it hears of them once per change set.
        on_installed=changed,
        ties=lambda r: [_CHILD_RELOAD] if r.exec_notify else [],
        # Check and reload commands are children too: the supervisor must not reap them.
        command_guard=supervisor.reaping_paused,
        slots=fleet.slots,
    )
    daemon = Daemon(config, store, watch_options(args, options), hooks, status=status)
    fleet.attach(daemon.pause)
    fleet.start_report(lambda: daemon.config.resources)
    supervisor.start()
    logger.info("started", command=argv[0], pid=supervisor.pid)
    # If the watch dies, stop the child rather than run it unwatched, and say why.
    watcher = Worker("confpy-daemon", daemon.run, on_death=supervisor.stop).start()
    try:
        code = supervisor.run(on_stop=daemon.stop)
    except ConfpyError:
        daemon.stop()
        raise
    finally:
        daemon.stop()
        watcher.join(timeout=30)
        fleet.close()
        if server is not None:
            server.shutdown()
    watcher.check()
    return code


_CHILD_RELOAD = ("exec", "child reload")
"""The change-set tie of every resource whose file the child reads (`exec_notify`)."""
