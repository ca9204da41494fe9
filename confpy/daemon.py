"""The watch daemon: keep every destination in sync with etcd, missing no change.

One thread watches etcd (one watch on one stream) and puts what it receives into the
daemon's one inbox; the daemon's loop applies changes to an in-memory mirror of the
watched keys, debounces, and renders change sets from the mirror at an exact revision.
It starts from a full snapshot and watches from the snapshot's revision + 1; after a
broken stream it resumes from the last received revision + 1; after compaction, and
every `resync_interval`, it re-reads a full snapshot. A failing resource keeps its old
file and is retried with backoff until it succeeds, independent of further changes to
its keys; a failed reload is owed, and retried likewise until it succeeds. While
changes keep coming, each reload action runs at most once per `min_reload_interval`;
files are installed at once all the same, and the owed reload runs when it may.

The loop sleeps on a `Wakeup` pipe, which the watch thread rings and, under
`run_daemon`, SIGTERM/SIGINT/SIGHUP arrive on: a signal delivered to any thread wakes
it at once and is handled as ordinary code (see `confpy.wakeup`).
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import tenacity

from confpy import backoff
from confpy.errors import (
    ConfpyError,
    RevisionCompactedError,
    StoreError,
    StoreUnavailableError,
    WatchGapError,
)
from confpy.health import Status
from confpy.keys import PatternIndex, SortedKeys
from confpy.log import get_logger
from confpy.resource import TemplateResource
from confpy.runner import Config, RenderOptions, apply, reload_keys, render_all
from confpy.schedule import Debouncer, ReloadLimiter, RetrySchedule
from confpy.snapshot import Snapshot, Store, WatchBatch
from confpy.wakeup import Wakeup

log = get_logger("confpy.daemon")


DEFAULT_MIN_RELOAD_INTERVAL = 1.0
"""Seconds between two runs of one reload action while changes keep arriving (see
docs/operations.md): an isolated change still reloads at once; a burst of 1000 puts
(about 1 s on loopback) reloads 2 or 3 times instead of 40 to 140 (bench/watch.py)."""

DEFAULT_MAX_LAG = 30.0
"""Seconds a received change may wait to reach its file before /healthz says 503."""


@dataclass(frozen=True)
class _Resync:
    """A full snapshot read by the watch thread after compaction."""

    generation: int
    snapshot: Snapshot
    reason: str


@dataclass(frozen=True)
class _Received:
    generation: int
    at: float
    batch: WatchBatch


class _Inbox:
    """The one queue from the watch thread to the loop: `put()` enqueues, then rings."""

    def __init__(self, wakeup: Wakeup) -> None:
        # SimpleQueue: its put() is reentrant, and the watch thread only ever puts.
        self._queue: queue.SimpleQueue[_Received | _Resync] = queue.SimpleQueue()
        self._wakeup = wakeup

    def put(self, item: _Received | _Resync) -> None:
        self._queue.put(item)
        self._wakeup.wake()

    def empty(self) -> bool:
        return self._queue.empty()

    def take(self) -> _Received | _Resync | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_NOTIFY = ("exec notify",)
"""The reload limiter's key for `exec`'s signal to its child."""


class Daemon:
    """Runs until `stop()`; `request_reload()` re-reads the configuration (SIGHUP).

    With `signals`, `run()` must be called on the main thread: it catches them for its
    whole duration, SIGHUP meaning `request_reload()` and any other `stop()`.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        options: RenderOptions,
        *,
        wait: tuple[float, float] | None = None,
        resync_interval: float = 600.0,
        interval: float | None = None,
        status: Status | None = None,
        load_config: Callable[[], Config] | None = None,
        on_installed: Callable[[list[TemplateResource]], None] | None = None,
        exec_notify: bool = False,
        command_guard: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
        on_ready: Callable[[], object] | None = None,
        watchdog: tuple[float, Callable[[], object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        signals: tuple[signal.Signals, ...] = (),
        min_reload_interval: float = DEFAULT_MIN_RELOAD_INTERVAL,
        max_lag: float = DEFAULT_MAX_LAG,
    ) -> None:
        self.config = config
        self.store = store
        self.options = options
        self.resync_interval = resync_interval
        self.interval = interval
        self.status = status or Status(clock)
        self.status.set_bounds(max_lag, _silent_after(store, interval, max_lag))
        self._load_config = load_config
        self._on_installed = on_installed
        self._exec_notify = exec_notify
        self._command_guard = command_guard or contextlib.nullcontext
        self._on_ready = on_ready
        self._watchdog = watchdog
        self._next_watchdog = float("inf")
        self._clock = clock
        self._wakeup = Wakeup(signals)
        self._inbox = _Inbox(self._wakeup)
        # Items a stopped watch may still deliver carry an older generation: ignored.
        self._generation = 0
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._watch_stop = threading.Event()
        self._watch_thread: threading.Thread | None = None
        self._mirror: dict[str, bytes] = {}
        self._mirror_keys = SortedKeys(())
        self._owners: tuple[Config, PatternIndex, dict[str, TemplateResource]] | None = None
        self._revision = 0
        # The revision of the last full snapshot: watch events at or below it are in the
        # mirror already. Not `_revision`: with one watch per range, an event from one
        # range may arrive after a newer one from another, and must still be applied.
        self._snapshot_revision = 0
        self._debouncer = Debouncer(wait)
        self._retries = RetrySchedule()
        self._limiter = ReloadLimiter(min_reload_interval, clock)
        self._owed: set[str] = set()
        """Resources whose reload has not run since their file was installed."""
        self._deferred: dict[str, float] = {}
        """Owed reloads held back by the limiter, and when they may run."""
        self._notify_owed: list[TemplateResource] = []
        """`exec`: installed resources whose child reload the limiter held back."""
        self._touched_revisions: dict[str, set[int]] = {}
        self._received_at: dict[str, float] = {}
        self._next_resync = 0.0

    # -- control, from any thread (not from a signal handler: pass `signals` instead) -------

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.wake()

    def request_reload(self) -> None:
        self._reload.set()
        self._wakeup.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

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
                if self._reload.is_set():
                    self._reload.clear()
                    self._reload_config()
                now = self._clock()
                if self._watchdog is not None and now >= self._next_watchdog:
                    self._watchdog[1]()
                    self._next_watchdog = now + self._watchdog[0]
                if now >= self._next_resync:
                    self._resync("interval" if self.interval else "periodic resync")
                ready = self._debouncer.ready(now) | self._retries.due(now) | self._due_reloads(now)
                if ready:
                    self._render(ready)
                if self._notify_owed and self._limiter.allowed(_NOTIFY):
                    with self._command_guard():
                        self._notify([])
                self._note_caught_up()
        finally:
            self._stop_watch()
            self.store.close()
            self._wakeup.close()
        log.info("stopped", revision=self._revision, resources=len(self.config.resources))
        return 0

    def _start(self) -> bool:
        if self._watchdog is not None:
            self._next_watchdog = self._clock()
        snapshot = self._snapshot_until_stopped()
        if snapshot is None:
            return False
        self._replace_mirror(snapshot)
        self._render({r.name for r in self.config.resources}, reason="start")
        self.status.mark_started()
        # READY=1 once every resource had its first render, whether or not all succeeded:
        # failing ones are retried, and /healthz tells which.
        if self._on_ready is not None:
            self._on_ready()
        self._schedule_resync()
        if self.interval is None:
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
            "endpoint": _endpoint(self.store),
            "revision": snapshot.revision,
        }
        if self.interval is None:
            log.info("watching", from_revision=snapshot.revision + 1, **fields)
        else:
            log.info("polling", every=self.interval, **fields)

    def _wait_and_drain(self) -> None:
        """Block until something is due, then take every queued item (coalescing bursts)."""
        deadlines = [
            self._next_resync,
            self._next_watchdog,
            self._debouncer.next_due(),
            self._retries.next_due(),
            min(self._deferred.values(), default=None),
            self._limiter.next_allowed(_NOTIFY) if self._notify_owed else None,
        ]
        due = min(d for d in deadlines if d is not None)
        timeout = 0.0 if not self._inbox.empty() else max(0.0, due - self._clock())
        self._on_signals(self._wakeup.wait(min(timeout, 3600)))
        while (item := self._inbox.take()) is not None:
            self._handle(item)

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

    def _handle(self, item: _Received | _Resync) -> None:
        if item.generation != self._generation:
            return  # from a watch stopped since (SIGHUP): a new snapshot was read
        if isinstance(item, _Received):
            self._apply_batch(item.batch, item.at)
        else:
            self.status.count("resyncs")
            if self._replace_mirror(item.snapshot):
                self._touch_all(item.reason)

    def _due_reloads(self, now: float) -> set[str]:
        out = {n for n, t in self._deferred.items() if t <= now}
        for n in out:
            del self._deferred[n]
        return out

    def _note_caught_up(self) -> None:
        """Stop the lag clock once nothing received waits to reach a file or a reload."""
        self.status.caught_up(
            lambda: (
                self._inbox.empty()
                and not len(self._debouncer)
                and not self._deferred
                and not self._notify_owed
            )
        )

    # -- state ------------------------------------------------------------------------------

    def _replace_mirror(self, snapshot: Snapshot) -> bool:
        if snapshot.revision < self._revision:
            return False
        self._mirror = dict(snapshot.values)
        self._mirror_keys = SortedKeys(self._mirror)
        self._revision = snapshot.revision
        self._snapshot_revision = snapshot.revision
        self.status.set_revision(self._revision)
        return True

    def _apply_batch(self, batch: WatchBatch, received: float) -> None:
        now = self._clock()
        changed: list[str] = []
        for ev in batch.events:
            if ev.mod_revision <= self._snapshot_revision:
                continue  # already in the mirror through a newer snapshot
            if ev.value is None:
                self._mirror.pop(ev.key, None)
                self._mirror_keys.discard(ev.key)
            else:
                self._mirror[ev.key] = ev.value
                self._mirror_keys.add(ev.key)
            changed.append(ev.key)
        self._revision = max(self._revision, batch.revision)
        self.status.set_revision(self._revision)
        if not changed:
            return
        log.debug("change received", keys=changed[:20], revision=batch.revision)
        index, by_name = self._resource_index()
        for name in sorted(index.touched(changed)):
            self._debouncer.touch(name, now, by_name[name].wait)
            self._touched_revisions.setdefault(name, set()).add(batch.revision)
            self._received_at.setdefault(name, received)
        self.status.set_synced(False)

    def _resource_index(self) -> tuple[PatternIndex, dict[str, TemplateResource]]:
        """Which resources read a key, rebuilt when the configuration is replaced."""
        if self._owners is None or self._owners[0] is not self.config:
            by_name = {r.name: r for r in self.config.resources}
            index = PatternIndex({n: r.full_keys for n, r in by_name.items()})
            self._owners = (self.config, index, by_name)
        return self._owners[1], self._owners[2]

    def _touch_all(self, reason: str) -> None:
        log.info("re-rendering everything", reason=reason, revision=self._revision)
        self.status.behind()
        now = self._clock()
        for r in self.config.resources:
            self._debouncer.touch(r.name, now, None)

    # -- rendering --------------------------------------------------------------------------

    def _render(self, names: set[str], reason: str = "change") -> None:
        """Render `names` as change sets: related resources are installed all or nothing."""
        by_name = {r.name: r for r in self.config.resources}
        resources = [by_name[n] for n in sorted(names) if n in by_name]
        snapshot = Snapshot(self._revision, MappingProxyType(self._mirror), self._mirror_keys)
        for group in self._change_sets(resources):
            self._render_group(group, snapshot, reason)
        for n in names:
            self._touched_revisions.pop(n, None)
        self.status.set_synced(
            not self._retries.failing and not len(self._debouncer) and not self._owed
        )

    def _change_sets(self, resources: list[TemplateResource]) -> list[list[TemplateResource]]:
        """Group resources that share a reload action, or were changed by one transaction."""
        parent = {r.name: r.name for r in resources}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        owner: dict[object, str] = {}
        for r in resources:
            ties: set[object] = set(reload_keys(r))
            ties |= {("revision", rev) for rev in self._touched_revisions.get(r.name, ())}
            if self._exec_notify and r.exec_notify:
                ties.add(("exec",))
            for tie in ties:
                if tie in owner:
                    parent[find(r.name)] = find(owner[tie])
                else:
                    owner[tie] = r.name
        groups: dict[str, list[TemplateResource]] = {}
        for r in resources:
            groups.setdefault(find(r.name), []).append(r)
        return list(groups.values())

    def _render_group(self, group: list[TemplateResource], snapshot: Snapshot, reason: str) -> None:
        rendered, failures = render_all(self.config, group, snapshot)
        with self._command_guard():
            report = apply(
                group,
                snapshot,
                rendered,
                failures,
                self.options,
                atomic=True,
                notify=self._notify if self._on_installed is not None else None,
                owed={r.name for r in group} & self._owed,
                limiter=self._limiter,
            )
        now = self._clock()
        self.status.count("renders", len(group))
        self.status.count("reloads", report.reloads)
        for o in report.outcomes:
            name = o.resource.name
            received = self._received_at.pop(name, None)
            if o.reload_owed:
                self._owed.add(name)
            else:
                self._owed.discard(name)
            self._deferred.pop(name, None)
            if o.status == "installed":
                self.status.count("installs")
                if received is not None:
                    self.status.observe_latency(now - received)
            if o.failed:
                self._failed(o.resource, o.step, str(o.error), now, snapshot.revision)
                continue
            if o.reload_not_before is not None:
                # Deferred by min_reload_interval; a reload that failed before stays failing.
                self._deferred[name] = o.reload_not_before
                self.status.count("reloads_deferred")
                continue
            if name in self._retries.failing:
                log.info("recovered", resource=name, revision=snapshot.revision)
            self._retries.succeeded(name)
            self.status.resource_recovered(name)

    def _notify(self, installed: list[TemplateResource]) -> None:
        """`exec`: tell the child about installed files, at most once per min_reload_interval
        (the child's reload is a reload action too); what is held back goes out later."""
        assert self._on_installed is not None
        self._notify_owed.extend(installed)
        if not self._notify_owed or not self._limiter.allowed(_NOTIFY):
            return
        owed, self._notify_owed = self._notify_owed, []
        self._limiter.ran(_NOTIFY)
        self._on_installed(list({r.name: r for r in owed}.values()))

    def _failed(
        self, r: TemplateResource, step: str, error: str, now: float, revision: int
    ) -> None:
        name = r.name
        delay = self._retries.failed(name, now)
        self.status.count("render_failures")
        if step == "reload":
            self.status.count("reload_failures")
        reload = step == "reload"
        self.status.resource_failed(name, f"{step}: {error}" if reload else error, reload=reload)
        log.warning(
            "will retry",
            resource=name,
            step=step,
            retry_in=round(delay, 2),
            revision=revision,
            reload_owed=name in self._owed,
        )

    # -- snapshots and resync -----------------------------------------------------------------

    def _snapshot_until_stopped(self) -> Snapshot | None:
        """Read a full snapshot, retrying while etcd is unreachable; None when stopped."""

        def say(error: BaseException, wait: float) -> None:
            self.status.set_connected(False)
            log.warning("waiting for etcd", error=str(error), retry_in=round(wait, 2))

        retrying = backoff.retrying(
            backoff.WAITING_FOR_ETCD,
            retry_on=StoreUnavailableError,
            stop=tenacity.stop_when_event_set(self._stop),
            sleep=self._pause,
            on_retry=say,
        )
        try:
            snapshot = retrying(self.store.snapshot, self.config.patterns)
        except StoreUnavailableError:
            return None
        self.status.set_connected(True)
        self.status.heard(snapshot.revision)
        return snapshot

    def _resync(self, reason: str) -> None:
        self._schedule_resync()
        try:
            snapshot = self.store.snapshot(self.config.patterns)
        except StoreError as e:
            log.warning("resync failed, will try again", error=str(e))
            self.status.set_connected(False)
            return
        if self.interval is not None:
            self.status.set_connected(True)
        self.status.heard(snapshot.revision)
        self.status.count("resyncs")
        if self._replace_mirror(snapshot):
            self._touch_all(reason)

    def _schedule_resync(self) -> None:
        period = self.interval if self.interval is not None else self.resync_interval
        self._next_resync = self._clock() + period if period and period > 0 else float("inf")

    def _reload_config(self) -> None:
        if self._load_config is None:
            return
        try:
            config = self._load_config()
        except ConfpyError as e:
            problems = getattr(e, "problems", [e])
            for p in problems:
                log.error("new configuration refused, keeping the running one", error=str(p))
            self.status.count("config_refusals")
            self.status.config_refused("; ".join(str(p) for p in problems))
            return
        log.info("configuration reloaded", resources=len(config.resources))
        self.status.count("config_reloads")
        self.status.config_accepted()
        self._stop_watch()
        self.config = config
        names = {r.name for r in config.resources}
        self._retries.forget(self._retries.failing - names)
        self._owed &= names
        for gone in set(self._deferred) - names:
            del self._deferred[gone]
        self.status.keep_resources(names)
        self._debouncer.discard(set(self._received_at) - names)
        snapshot = self._snapshot_until_stopped()
        if snapshot is None:
            return
        self._revision = 0
        self._replace_mirror(snapshot)
        self._render(names, reason="reload")
        if self.interval is None:
            self._start_watch()
        self._say_started(snapshot)

    # -- the watch thread ---------------------------------------------------------------------

    def _start_watch(self) -> None:
        self._watch_stop = threading.Event()
        self._watch_thread = threading.Thread(
            target=self._watch_loop,
            args=(
                list(self.config.patterns),
                self._revision + 1,
                self._watch_stop,
                self._generation,
            ),
            name="confpy-watch",
            daemon=True,
        )
        self._watch_thread.start()

    def _stop_watch(self) -> None:
        """Stop the watch thread; whatever it still delivers is ignored (a new generation)."""
        self._watch_stop.set()
        self._generation += 1
        if self._watch_thread is not None:
            self._watch_thread.join(timeout=10)
            self._watch_thread = None

    def _watch_loop(
        self, patterns: list[str], start: int, stop: threading.Event, generation: int
    ) -> None:
        """Follow etcd from `start`, reconnecting with backoff; never lose or repeat a revision."""
        next_revision = start
        attempt = 0
        schedule = RetrySchedule(initial=0.1, maximum=5.0, jitter=0.5)
        while not stop.is_set():
            try:
                for batch in self.store.watch(patterns, next_revision, stop):
                    if attempt:
                        log.info(
                            "watch resumed", revision=next_revision, endpoint=_endpoint(self.store)
                        )
                    attempt = 0
                    schedule.succeeded("watch")
                    self.status.set_connected(True)
                    self.status.heard(batch.revision)
                    if batch.events or batch.revision >= next_revision:
                        self._post(_Received(generation, self._clock(), batch))
                    next_revision = max(next_revision, batch.revision + 1)
            except RevisionCompactedError as e:
                log.warning(
                    "watch position compacted, reading a full snapshot",
                    requested=next_revision,
                    compacted=e.compacted,
                )
                next_revision = (
                    self._resync_from_watch(patterns, "compacted", generation) or next_revision
                )
            except StoreError as e:
                # Unavailable, token expired, or refused (permissions being fixed): none
                # of these may end the watch silently while the daemon looks alive.
                if stop.is_set():
                    break
                attempt += 1
                self.status.set_connected(False)
                self.status.count("reconnects")
                if isinstance(e, WatchGapError):
                    # Separate watches per range (the etcd role does not cover the whole
                    # span) have no common revision to resume from: read everything again.
                    log.warning("watch broken, reading a full snapshot", error=str(e))
                    if attempt > 1:
                        # Failing again before the watch even connected: don't spin.
                        stop.wait(schedule.failed("watch", 0.0))
                    next_revision = (
                        self._resync_from_watch(patterns, "watch gap", generation) or next_revision
                    )
                    continue
                delay = schedule.failed("watch", 0.0)
                log.warning(
                    "watch broken, reconnecting",
                    error=str(e),
                    retry_in=round(delay, 2),
                    resume_from=next_revision,
                )
                stop.wait(delay)

    def _resync_from_watch(self, patterns: list[str], reason: str, generation: int) -> int | None:
        """Queue a full snapshot for the main loop; the revision to watch from, or None."""
        try:
            snapshot = self.store.snapshot(patterns)
        except StoreError:
            return None  # the watch's own retry follows
        self.status.heard(snapshot.revision)
        self._post(_Resync(generation, snapshot, reason))
        return snapshot.revision + 1

    def _post(self, item: _Received | _Resync) -> None:
        """Hand an item to the loop; the lag clock runs until the loop has dealt with it."""
        self._inbox.put(item)
        self.status.behind()


def _silent_after(store: Store, interval: float | None, max_lag: float) -> float | None:
    """How long etcd may stay silent before /healthz says so; None when nothing promises
    regular word from it (a store without progress notifications)."""
    if interval is not None:
        return interval + max_lag
    progress = getattr(store, "progress_interval", None)
    return None if progress is None else float(progress) + max_lag


def _endpoint(store: Store) -> str:
    return str(getattr(store, "endpoint", "?"))


def run_daemon(settings: Any, config: Config, options: RenderOptions, args: Any) -> int:
    """`confpy render --watch|--interval`: the daemon with signals, systemd and health wired."""
    from confpy import sdnotify
    from confpy.health import serve
    from confpy.runner import load_config
    from confpy.store import EtcdStore

    status = Status()
    server = serve(status, args.health_addr) if args.health_addr else None
    watchdog = sdnotify.watchdog_interval()
    daemon = Daemon(
        config,
        EtcdStore(settings),
        options,
        wait=args.wait,
        resync_interval=args.resync_interval,
        interval=args.interval,
        status=status,
        load_config=lambda: load_config(settings.confdir, settings.prefix),
        on_ready=lambda: sdnotify.notify("READY=1\nSTATUS=files in sync"),
        watchdog=(watchdog, lambda: sdnotify.notify("WATCHDOG=1")) if watchdog else None,
        signals=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP),
        min_reload_interval=args.min_reload_interval,
        max_lag=args.max_lag,
    )
    try:
        return daemon.run()
    finally:
        sdnotify.notify("STOPPING=1")
        if server is not None:
            server.shutdown()
