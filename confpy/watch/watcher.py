"""The watch thread: follow etcd from a revision into the daemon's inbox, reconnecting.

`Watcher.start()` runs one worker thread that iterates `Store.watch` and puts each batch,
with the time it arrived, into the `Inbox`, which rings the daemon's `Wakeup`. A broken
stream is resumed from the last received revision + 1 after a backoff; a compacted
position or a gap between per-range watches is bridged by a full snapshot, queued as a
`Resync`. Items carry the generation of the watch that produced them: after `stop()`,
whatever the old thread still delivers is recognisably stale.

A fleet reconnects spread out: every wait before a reconnect or a full read is "full
jitter" (uniform from 0 to the backoff step, the first one included), so that N daemons
whose streams break together when etcd restarts do not come back in the same second.

etcd wiped or replaced: a reply header from another cluster, from an older raft term, or
at a revision below what was already received, makes the watcher read a (linearizable)
snapshot; if that says the same, etcd went back, and the snapshot is queued as a `Resync`
whose `went_back` says so: the daemon starts over from it. A history rewritten under the
same cluster and term shows only in known keys, checked before each stream (`witness`).
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import tenacity

from confpy import backoff
from confpy.backoff import Backoff
from confpy.errors import (
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    WatchGapError,
)
from confpy.log import get_logger
from confpy.store.snapshot import Origin, Snapshot, Store, WatchBatch
from confpy.wakeup import Wakeup
from confpy.watch.health import Status
from confpy.watch.witness import Witnesses
from confpy.workers import Worker

log = get_logger(__name__)

RECONNECT_BACKOFF = Backoff(initial=1.0, maximum=5.0, spread=True)
"""Before each attempt to re-establish a broken watch (or to read a snapshot again):
uniform in [0, 1 s] the first time, doubling to [0, 5 s]."""

FULL_READ_SPREAD = Backoff(initial=3.0, maximum=3.0, spread=True)
"""Before a full read the watch needs (compaction, a gap, etcd gone back): uniform in
[0, 3 s]. These follow a reconnect, which a whole fleet makes within a second or two, and
a full read costs etcd what all the watched keys weigh: spread them wider."""


@dataclass(frozen=True)
class Resync:
    """A full snapshot read by the watch thread after compaction, a watch gap, or etcd
    going back (`went_back` then says how: the daemon must start over from it)."""

    generation: int
    snapshot: Snapshot
    reason: str
    went_back: str | None = None


@dataclass(frozen=True)
class Received:
    """A watch batch and when it arrived (the start of its change-to-file latency)."""

    generation: int
    at: float
    batch: WatchBatch


class Inbox:
    """The one queue from the watch thread to the loop: `put()` enqueues, then rings."""

    def __init__(self, wakeup: Wakeup) -> None:
        # SimpleQueue: its put() is reentrant, and the watch thread only ever puts.
        self._queue: queue.SimpleQueue[Received | Resync] = queue.SimpleQueue()
        self._wakeup = wakeup

    def put(self, item: Received | Resync) -> None:
        self._queue.put(item)
        self._wakeup.wake()

    def empty(self) -> bool:
        return self._queue.empty()

    def ring(self) -> None:
        """Wake the loop without an item (the watch thread died: `Watcher.check()`)."""
        self._wakeup.wake()

    def take(self) -> Received | Resync | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


def endpoint(store: Store) -> str:
    """The etcd endpoint a store talks to, for log lines ("?" when it has none)."""
    return str(getattr(store, "endpoint", "?"))


@dataclass
class _Position:
    """Where the watch thread is: the revision to watch from, failures since a batch."""

    next_revision: int
    attempt: int = 0  # errors since the last batch
    failures: int = 0  # backoff steps taken since the last batch


class Watcher:
    """At most one watch thread at a time; `generation` names the current one.

    `rng` draws the reconnect jitter and `pause(stop, seconds)` waits (returning early when
    `stop` is set); tests inject both.
    """

    def __init__(
        self,
        store: Store,
        status: Status,
        inbox: Inbox,
        clock: Callable[[], float],
        *,
        rng: random.Random | None = None,
        pause: Callable[[threading.Event, float], object] | None = None,
    ) -> None:
        self._store = store
        self._status = status
        self._inbox = inbox
        self._clock = clock
        self._rng = rng
        self._pause = pause or (lambda stop, seconds: stop.wait(seconds))
        self.generation = 0
        self.origin = Origin()
        """The etcd the watched revisions belong to: its cluster, the highest term heard."""
        self._stop = threading.Event()
        self._worker: Worker | None = None
        self._witnesses = Witnesses()

    def start(
        self,
        patterns: Sequence[str],
        start_revision: int,
        origin: Origin | None = None,
        seen: Mapping[str, bytes] | None = None,
    ) -> None:
        """Watch `patterns` from `start_revision` (of etcd `origin`, where the daemon `seen`
        these values) in a new thread."""
        self._stop = stop = threading.Event()
        self.origin = origin or Origin()
        self._witnesses = Witnesses(seen)
        generation = self.generation
        self._worker = Worker(
            "confpy-watch",
            lambda: self._follow(list(patterns), start_revision, stop, generation),
            on_death=self._inbox.ring,
        ).start()

    def stop(self) -> None:
        """Stop the watch thread; whatever it still delivers is ignored (a new generation)."""
        self._stop.set()
        self.generation += 1
        if self._worker is not None:
            # Bounded: a thread still inside a read delivers only stale items (generation).
            self._worker.join(timeout=1.0)
            self._worker = None

    def check(self) -> None:
        """Raise what ended the watch thread, if it died (`Worker.check`)."""
        if self._worker is not None:
            self._worker.check()

    def _wait(self, stop: threading.Event, failures: int) -> float:
        """Wait the jittered backoff after `failures` failures in a row; return the wait."""
        delay = RECONNECT_BACKOFF.delay(failures, self._rng)
        self._pause(stop, delay)
        return delay

    def _follow(
        self, patterns: list[str], start: int, stop: threading.Event, generation: int
    ) -> None:
        """Follow etcd from `start`, reconnecting with backoff; never lose or repeat a revision."""
        at = _Position(start)
        while not stop.is_set():
            try:
                self._stream(patterns, at, stop, generation)
            except RevisionCompactedError as e:
                log.warning(
                    "watch position compacted, reading a full snapshot",
                    requested=at.next_revision,
                    compacted=e.compacted,
                )
                resumed = self._resync(patterns, "compacted", generation, stop)
                if resumed is None:
                    # etcd did not answer the read: back off before trying again.
                    at.failures += 1
                    self._wait(stop, at.failures)
                at.next_revision = resumed or at.next_revision
            except StoreError as e:
                # Unavailable, token expired, refused (permissions being fixed), out of
                # space: none of these may end the watch silently while the daemon looks alive.
                if stop.is_set():
                    break
                self._broken(patterns, at, stop, generation, e)

    def _broken(
        self,
        patterns: list[str],
        at: _Position,
        stop: threading.Event,
        generation: int,
        error: StoreError,
    ) -> None:
        """The stream broke: wait (spread out), then resync after a gap."""
        at.attempt += 1
        at.failures += 1
        self._status.set_connected(False)
        self._status.count("reconnects")
        if isinstance(error, WatchGapError):
            # Separate watches per range (the etcd role does not cover the whole span)
            # have no common revision to resume from: read everything again, until a
            # snapshot is read (a watch resumed without one could miss changes).
            log.warning("watch broken, reading a full snapshot", error=str(error))
            while not stop.is_set():
                resumed = self._resync(patterns, "watch gap", generation, stop)
                if resumed is not None:
                    at.next_revision = resumed
                    return
                self._wait(stop, at.failures)
                at.failures += 1
            return
        delay = RECONNECT_BACKOFF.delay(at.failures, self._rng)
        log.warning(
            "watch broken, reconnecting",
            error=str(error),
            retry_in=round(delay, 2),
            resume_from=at.next_revision,
        )
        self._pause(stop, delay)

    def _stream(
        self, patterns: list[str], at: _Position, stop: threading.Event, generation: int
    ) -> None:
        """One watch stream from `at`, until it ends or etcd went back."""
        known = at.next_revision - 1  # every stream: etcd may go between a snapshot and it
        if how := self._witnesses.rewritten(self._store.get, known):
            self._status.resync_needed()
            if (snapshot := self._read_all(patterns, stop)) is None:
                return  # stopping
            how = self._departed(snapshot, known) or how
            at.next_revision = self._start_over(snapshot, how, generation)
        stream = self._store.watch(patterns, at.next_revision, stop)
        try:
            self._deliver(stream, patterns, at, generation, stop)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # a stream left for a new position: its connection goes now

    def _deliver(
        self,
        stream: Iterator[WatchBatch],
        patterns: list[str],
        at: _Position,
        generation: int,
        stop: threading.Event,
    ) -> None:
        checked = False
        for batch in stream:
            if at.attempt:
                log.info("watch resumed", revision=at.next_revision, endpoint=endpoint(self._store))
            at.attempt = at.failures = 0
            self._status.set_connected(True)
            if not checked and self._suspect(batch, at.next_revision):
                # Once per stream: a member that lags the others would repeat it.
                checked = True
                resumed = self._went_back(patterns, at.next_revision, generation, stop)
                if resumed is not None:
                    at.next_revision = resumed
                    return
            # Members with a leader (the watch asks for one) speak in the cluster's term.
            self.origin = self.origin.then(batch.origin)
            self._status.heard(batch.revision)
            for event in batch.events:
                self._witnesses.saw(event)
            if batch.events or batch.revision >= at.next_revision:
                self._post(Received(generation, self._clock(), batch))
            at.next_revision = max(at.next_revision, batch.revision + 1)

    def _suspect(self, batch: WatchBatch, next_revision: int) -> bool:
        """Whether a batch's header says etcd may have gone back (or the member lags)."""
        departed = self.origin.departed(batch.origin) is not None
        return departed or 0 < batch.header_revision < next_revision - 1

    def _went_back(
        self, patterns: list[str], next_revision: int, generation: int, stop: threading.Event
    ) -> int | None:
        """Tell etcd gone back from a lagging member by a linearizable read: if etcd went
        back, queue its state as a `Resync` and return the revision to watch from."""
        self._status.resync_needed()
        try:
            snapshot = self._read_all(patterns, stop)
        except StoreError:
            self._status.resync_done()  # not known to be needed: the next stream checks again
            raise
        if snapshot is None:  # stopping
            self._status.resync_done()
            return None
        if (how := self._departed(snapshot, next_revision - 1)) is None:
            # A member behind the leader: it catches up, and the stream delivers from there.
            self._status.resync_done()
            self.origin = self.origin.then(snapshot.origin)
            return None
        return self._start_over(snapshot, how, generation)

    def _departed(self, snapshot: Snapshot, known: int) -> str | None:
        """How a linearizable `snapshot` shows etcd went back from revision `known`, or None."""
        how = self.origin.departed(snapshot.origin)
        if how is None and snapshot.revision < known:
            how = f"revision went back from {known} to {snapshot.revision}"
        return how

    def _start_over(self, snapshot: Snapshot, how: str, generation: int) -> int:
        """etcd went back: queue its state as a `Resync`; the revision to watch from."""
        self.origin = snapshot.origin
        self._witnesses = Witnesses(snapshot.values)
        self._post(Resync(generation, snapshot, "etcd went back", went_back=how))
        return snapshot.revision + 1

    def _resync(
        self, patterns: list[str], reason: str, generation: int, stop: threading.Event
    ) -> int | None:
        """Queue a full snapshot for the main loop; the revision to watch from, or None
        (etcd did not answer, or stopping)."""
        self._status.resync_needed()
        try:
            snapshot = self._read_all(patterns, stop)
        except StoreError:
            return None  # the watch's own retry follows
        if snapshot is None:
            return None
        self._status.heard(snapshot.revision)
        self._witnesses = Witnesses(snapshot.values)  # changes before it went unseen
        self._post(Resync(generation, snapshot, reason))
        return snapshot.revision + 1

    def _read_all(self, patterns: list[str], stop: threading.Event) -> Snapshot | None:
        """A full snapshot, after a random wait in FULL_READ_SPREAD; None when stopping."""
        self._pause(stop, FULL_READ_SPREAD.delay(1, self._rng))
        return None if stop.is_set() else self._store.snapshot(patterns)

    def _post(self, item: Received | Resync) -> None:
        """Hand an item to the loop; the lag clock runs until the loop has dealt with it."""
        self._inbox.put(item)
        self._status.behind()


def snapshot_until_stopped(
    store: Store,
    patterns: Sequence[str],
    status: Status,
    stop: threading.Event,
    pause: Callable[[float], object],
    *,
    read: Callable[[Sequence[str]], Snapshot] | None = None,
) -> Snapshot | None:
    """Read a full snapshot, retrying (spread out) while etcd fails; None when `stop` is
    set. `pause(seconds)` waits between attempts; `read(patterns)` reads (by default
    `store.snapshot`). A refused login or role is raised: the operator must fix it (exit 2
    at start; a SIGHUP configuration is refused)."""

    def say(error: BaseException, wait: float) -> None:
        status.set_connected(False)
        log.warning("waiting for etcd", error=str(error), retry_in=round(wait, 2))

    retrying = backoff.retrying(
        RECONNECT_BACKOFF,
        retry_on=StoreError,
        unless=StoreAccessError,
        stop=tenacity.stop_when_event_set(stop),
        sleep=pause,
        on_retry=say,
    )
    try:
        snapshot = retrying(read or store.snapshot, patterns)
    except StoreError:
        if not stop.is_set():
            raise
        return None
    status.set_connected(True)
    status.heard(snapshot.revision)
    return snapshot
