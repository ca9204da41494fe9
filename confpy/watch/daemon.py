"""The watch daemon: keep every destination in sync with etcd, missing no change.

`Daemon` owns the loop. A `confpy.watch.watcher.Watcher` thread follows etcd (one watch on
one stream) and puts what it receives into the daemon's one inbox; the loop applies
changes to a `confpy.watch.mirror.Mirror` of the watched keys, debounces, and renders change
sets (`confpy.watch.changesets`) from the mirror at an exact revision. It starts from a full
snapshot and watches from the snapshot's revision + 1; after a broken stream it resumes
from the last received revision + 1; after compaction, and every `resync_interval`, it
re-reads a full snapshot; if etcd went back (wiped or replaced: a lower revision, another
cluster ID), it starts over from etcd's current state. A failing resource keeps its old
file and is retried with backoff until it succeeds, independent of further changes to its
keys; a failed reload is owed, and retried likewise until it succeeds
(`confpy.watch.state`). While changes
keep coming, each reload action runs at most once per `min_reload_interval`; files are
installed at once all the same, and the owed reload runs when it may.

The daemon knows nothing of argparse, systemd or child processes: the command that runs it
passes typed `WatchOptions` and `Hooks` (see `confpy.watch.options`). The loop sleeps on a
`Wakeup` pipe, which the watch thread rings and `Hooks.signals` arrive on: a signal delivered to
any thread wakes it at once and is handled as ordinary code (see `confpy.wakeup`).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Hashable, Sequence

from confpy.apply.reloads import reload_keys
from confpy.apply.runner import Config, apply, plan_change_set, render_all
from confpy.config.keys import PatternIndex
from confpy.config.resource import TemplateResource
from confpy.errors import ConfpyError, StoreError
from confpy.log import get_logger
from confpy.store.snapshot import Snapshot, Store, WatchBatch
from confpy.wakeup import Wakeup, call_answering_signals
from confpy.watch.changesets import change_sets, transaction_ties
from confpy.watch.health import Status
from confpy.watch.mirror import Mirror
from confpy.watch.notices import InstalledNotices
from confpy.watch.options import Hooks, Pause, WatchOptions
from confpy.watch.outcomes import record
from confpy.watch.schedule import Debouncer, ReloadLimiter, resync_period
from confpy.watch.state import ResourceTable
from confpy.watch.watcher import Inbox, Received, Resync, Watcher, endpoint, snapshot_until_stopped

log = get_logger(__name__)


_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


class Daemon:
    """Runs until `stop()`; `request_reload()` re-reads the configuration (SIGHUP)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        options: WatchOptions | None = None,
        hooks: Hooks | None = None,
        *,
        status: Status | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.options = options = options or WatchOptions()
        self.hooks = hooks or Hooks()
        self.status = status or Status(clock)
        progress = getattr(store, "progress_interval", None)
        self.status.set_bounds(options.max_lag, options.silent_after(progress))
        self._clock = clock
        self._next_watchdog = float("inf")
        self._wakeup = Wakeup(self.hooks.signals)
        self._inbox = Inbox(self._wakeup)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._watcher = Watcher(store, self.status, self._inbox, clock, rng=self._rng)
        self._stop, self._reload = threading.Event(), threading.Event()
        self.pause = Pause(self._wakeup, self._on_signals, self._stop)  # for Hooks.slots
        self._mirror = Mirror()
        self._owners: tuple[Config, PatternIndex, dict[str, TemplateResource]] | None = None
        self._debouncer = Debouncer(options.wait)
        self._table = ResourceTable()
        self._limiter = ReloadLimiter(options.min_reload_interval, clock)
        on_installed = self.hooks.on_installed
        self._notices = InstalledNotices(on_installed, self._limiter) if on_installed else None
        self._next_resync = 0.0

    # -- control, from any thread (not from a signal handler: use `Hooks.signals`) ----------

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.wake()
        # Ends any read of the loop's own still in flight (a snapshot against a frozen
        # etcd): nothing uses the store once stopped.
        self.store.close()

    def request_reload(self) -> None:
        self._reload.set()
        self._wakeup.wake()

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> int:
        """Render everything, then follow etcd until stopped. Returns an exit code."""
        self._wakeup.open()
        try:
            if not self._start():
                return 0
            while not self._stop.is_set():
                self._wait_and_drain()
                if self._stop.is_set():
                    break
                self._step()
        finally:
            self._watcher.stop()
            self.store.close()
            self._wakeup.close()
        log.info("stopped", revision=self._mirror.revision, resources=len(self.config.resources))
        return 0

    def _step(self) -> None:
        """Do whatever is due: a configuration reload, the watchdog, a resync, renders."""
        if self._reload.is_set():
            self._reload.clear()
            self._reload_config()
        now = self._clock()
        if self.hooks.watchdog is not None and now >= self._next_watchdog:
            self.hooks.watchdog[1]()
            self._next_watchdog = now + self.hooks.watchdog[0]
        if now >= self._next_resync:
            self._resync("interval" if self.options.interval else "periodic resync")
        ready = self._debouncer.ready(now) | self._table.due(now)
        if ready:
            self._render(ready)
        if self._notices is not None and self._notices.ready():
            with self.hooks.command_guard():
                self._notices.add([])
        self._note_caught_up()

    def _start(self) -> bool:
        if self.hooks.watchdog is not None:
            self._next_watchdog = self._clock()
        snapshot = self._snapshot_until_stopped(self.config.patterns)
        if snapshot is None:
            return False
        self._replace_mirror(snapshot)
        self._render({r.name for r in self.config.resources}, reason="start")
        self.status.mark_started()
        # READY=1 once every resource had its first render, whether or not all succeeded:
        # failing ones are retried, and /healthz tells which.
        if self.hooks.on_ready is not None:
            self.hooks.on_ready()
        self._schedule_resync()
        self._start_watch()
        self._say_started(snapshot)
        self._note_caught_up()
        return True

    def _say_started(self, snapshot: Snapshot) -> None:
        """The start line: what is watched, where, and from which revision."""
        fields: dict[str, object] = {
            "resources": len(self.config.resources),
            "keys": len(snapshot.values),
            "prefixes": len(self.config.patterns),
            "endpoint": endpoint(self.store),
            "revision": snapshot.revision,
        }
        if self.options.interval is None:
            log.info("watching", from_revision=snapshot.revision + 1, **fields)
        else:
            log.info("polling", every=self.options.interval, **fields)

    def _wait_and_drain(self) -> None:
        """Block until something is due, then take every queued item (coalescing bursts)."""
        deadlines = [
            self._next_resync,
            self._next_watchdog,
            self._debouncer.next_due(),
            self._table.next_due(),
            self._notices.next_due() if self._notices is not None else None,
        ]
        due = min(d for d in deadlines if d is not None)
        timeout = 0.0 if not self._inbox.empty() else max(0.0, due - self._clock())
        self._on_signals(self._wakeup.wait(min(timeout, 3600)))
        while (item := self._inbox.take()) is not None:
            self._handle(item)
        self._watcher.check()  # a dead watch thread ends the daemon, never a silent one

    def _pause(self, seconds: float) -> None:
        """Sleep between retries, still answering signals; return early when stopping."""
        deadline = self._clock() + seconds
        while not self._stop.is_set():
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._on_signals(self._wakeup.wait(remaining))

    def _on_signals(self, caught: list[signal.Signals]) -> None:
        for sig in caught:
            log.info("signal received", signal=sig.name)
            if sig in _STOP_SIGNALS:
                self.stop()
            else:
                self.request_reload()

    def _handle(self, item: Received | Resync) -> None:
        if item.generation != self._watcher.generation:
            return  # from a watch stopped since (SIGHUP): a new snapshot was read
        if isinstance(item, Received):
            self._apply_batch(item.batch, item.at)
        else:
            self.status.count("resyncs")
            if self._replace_mirror(item.snapshot, went_back=item.went_back):
                self._touch_all(item.reason)

    def _note_caught_up(self) -> None:
        """Stop the lag clock once nothing received waits to reach a file or a reload."""
        self.status.caught_up(
            lambda: (
                self._inbox.empty()
                and not len(self._debouncer)
                and not self._table.deferred
                and not (self._notices is not None and self._notices.owed)
            )
        )

    # -- state ------------------------------------------------------------------------------

    def _replace_mirror(self, snapshot: Snapshot, went_back: str | None = None) -> bool:
        """Take `snapshot` as the daemon's view, unless older than it (a watch batch got
        there first); with `went_back` (etcd was wiped or replaced) start over from it.
        Whichever: a full snapshot was read, so no resync is pending any more."""
        self.status.resync_done()
        if went_back is not None:
            log.warning("etcd went back, starting over from its current state", how=went_back)
            self._mirror.reset()
            self.status.start_over(snapshot.revision)
        if not self._mirror.replace(snapshot):
            return False
        self.status.set_revision(self._mirror.revision)
        return True

    def _apply_batch(self, batch: WatchBatch, received: float) -> None:
        now = self._clock()
        changed = self._mirror.apply(batch)
        self.status.set_revision(self._mirror.revision)
        if not changed:
            return
        log.debug("change received", keys=changed[:20], revision=batch.revision)
        index, by_name = self._resource_index()
        for name in sorted(index.touched(changed)):
            self._debouncer.touch(name, now, by_name[name].wait)
            self._table.touched(name, batch.revision, received)
        self.status.set_synced(False)

    def _resource_index(self) -> tuple[PatternIndex, dict[str, TemplateResource]]:
        """Which resources read a key, rebuilt when the configuration is replaced."""
        if self._owners is None or self._owners[0] is not self.config:
            by_name = {r.name: r for r in self.config.resources}
            index = PatternIndex({n: r.full_keys for n, r in by_name.items()})
            self._owners = (self.config, index, by_name)
        return self._owners[1], self._owners[2]

    def _touch_all(self, reason: str) -> None:
        log.info("re-rendering everything", reason=reason, revision=self._mirror.revision)
        self.status.behind()
        now = self._clock()
        for r in self.config.resources:
            self._debouncer.touch(r.name, now, None)

    # -- rendering --------------------------------------------------------------------------

    def _render(self, names: set[str], reason: str = "change") -> None:
        """Render `names` as change sets: related resources are installed all or nothing."""
        by_name = {r.name: r for r in self.config.resources}
        resources = [by_name[n] for n in sorted(names) if n in by_name]
        snapshot = self._mirror.snapshot()
        for group in change_sets(resources, self._ties):
            self._render_group(group, snapshot, reason)
        self._table.rendered(names)
        self.status.set_synced(
            not self._table.failing and not len(self._debouncer) and not self._table.owed
        )

    def _ties(self, r: TemplateResource) -> list[Hashable]:
        """Why `r` shares a change set: its reload actions, its transactions, the hooks'."""
        ties: list[Hashable] = [*reload_keys(r)]
        ties += transaction_ties(self._table.get(r.name).revisions)
        if self.hooks.ties is not None:
            ties += self.hooks.ties(r)
        return ties

    def _render_group(self, group: list[TemplateResource], snapshot: Snapshot, reason: str) -> None:
        plan = plan_change_set(self.config, group, snapshot)
        rendered, failures = render_all(self.config, plan, snapshot)
        with self.hooks.command_guard():
            report = apply(
                plan,
                snapshot,
                rendered,
                failures,
                self.options.render,
                atomic=True,
                notify=self._notices.add if self._notices is not None else None,
                owed={r.name for r in group} & self._table.owed,
                limiter=self._limiter,
                guard=self.hooks.slots,
            )
        record(report, self._table, self.status, self._clock(), snapshot.revision)

    # -- snapshots, resync, configuration reload -----------------------------------------------

    def _snapshot_until_stopped(self, patterns: list[str]) -> Snapshot | None:
        """Read a full snapshot, retrying while etcd is unreachable; None when stopped."""
        return snapshot_until_stopped(
            self.store,
            patterns,
            self.status,
            self._stop,
            self._pause,
            read=self._read_snapshot,
        )

    def _read_snapshot(self, patterns: Sequence[str]) -> Snapshot:
        """A snapshot read while the loop still answers signals (a stop cancels it)."""
        return call_answering_signals(self._wakeup, self._on_signals, self.store.snapshot, patterns)

    def _resync(self, reason: str) -> None:
        self._schedule_resync()
        try:
            snapshot = self._read_snapshot(self.config.patterns)
        except StoreError as e:
            if self._stop.is_set():
                return
            log.warning("resync failed, will try again", error=str(e))
            self.status.set_connected(False)
            return
        if self.options.interval is not None:
            self.status.set_connected(True)
        self.status.heard(snapshot.revision)
        self.status.count("resyncs")
        went_back = self._mirror.went_back(snapshot)
        if self._replace_mirror(snapshot, went_back=went_back):
            self._touch_all(reason if went_back is None else "etcd went back")
        if went_back is not None:
            # The watch follows revisions of the etcd that is gone: start it again.
            self._watcher.stop()
            self._start_watch()

    def _schedule_resync(self) -> None:
        period = resync_period(self.options.interval, self.options.resync_interval, self._rng)
        self._next_resync = float("inf") if period is None else self._clock() + period

    def _start_watch(self) -> None:
        if self.options.interval is None:
            m = self._mirror  # its values: keys to tell a rewritten etcd by (`witness`)
            self._watcher.start(self.config.patterns, m.revision + 1, m.origin, m.snapshot().values)

    def _reload_config(self) -> None:
        if self.hooks.load_config is None:
            return
        try:
            config = self.hooks.load_config()
            # Read before switching: a new configuration whose keys etcd refuses (roles)
            # is refused like a broken one, and the running one goes on.
            snapshot = self._snapshot_until_stopped(config.patterns)
        except ConfpyError as e:
            problems = getattr(e, "problems", [e])
            for p in problems:
                log.error("new configuration refused, keeping the running one", error=str(p))
            self.status.count("config_refusals")
            self.status.config_refused("; ".join(str(p) for p in problems))
            return
        if snapshot is None:
            return  # stopped while etcd was away
        log.info("configuration reloaded", resources=len(config.resources))
        self.status.count("config_reloads")
        self.status.config_accepted()
        self._watcher.stop()
        names = {r.name for r in config.resources}
        self._debouncer.discard({r.name for r in self.config.resources} - names)
        self.config = config
        self._table.keep(names)
        self.status.keep_resources(names)
        self._mirror.reset()
        self._replace_mirror(snapshot)
        self._render(names, reason="reload")
        self._start_watch()
        self._say_started(snapshot)
