"""The watch thread: follow etcd from a revision into the daemon's inbox, reconnecting.

`Watcher.start()` runs one thread that iterates `Store.watch` and puts each batch, with
the time it arrived, into the `Inbox`, which rings the daemon's `Wakeup`. A broken stream
is resumed from the last received revision + 1 after a backoff; a compacted position or
a gap between per-range watches is bridged by a full snapshot, queued as a `Resync`.
Items carry the generation of the watch that produced them: after `stop()`, whatever the
old thread still delivers is recognisably stale.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confpy.backoff import Backoff
from confpy.errors import RevisionCompactedError, StoreError, WatchGapError
from confpy.health import Status
from confpy.log import get_logger
from confpy.snapshot import Snapshot, Store, WatchBatch
from confpy.wakeup import Wakeup

log = get_logger("confpy.daemon")

RECONNECT_BACKOFF = Backoff(initial=0.1, maximum=5.0, jitter=0.5)
"""Between attempts to re-establish a broken watch."""


@dataclass(frozen=True)
class Resync:
    """A full snapshot read by the watch thread after compaction or a watch gap."""

    generation: int
    snapshot: Snapshot
    reason: str


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

    def take(self) -> Received | Resync | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


def endpoint(store: Store) -> str:
    """The etcd endpoint a store talks to, for log lines ("?" when it has none)."""
    return str(getattr(store, "endpoint", "?"))


class Watcher:
    """At most one watch thread at a time; `generation` names the current one."""

    def __init__(
        self, store: Store, status: Status, inbox: Inbox, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._status = status
        self._inbox = inbox
        self._clock = clock
        self.generation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, patterns: Sequence[str], start_revision: int) -> None:
        """Watch `patterns` from `start_revision` in a new thread."""
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._follow,
            args=(list(patterns), start_revision, self._stop, self.generation),
            name="confpy-watch",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the watch thread; whatever it still delivers is ignored (a new generation)."""
        self._stop.set()
        self.generation += 1
        if self._thread is not None:
            # Bounded: a thread still inside a read delivers only stale items (generation).
            self._thread.join(timeout=1.0)
            self._thread = None

    def _follow(
        self, patterns: list[str], start: int, stop: threading.Event, generation: int
    ) -> None:
        """Follow etcd from `start`, reconnecting with backoff; never lose or repeat a revision."""
        next_revision = start
        attempt = 0  # errors since the last batch
        failures = 0  # backoff steps taken since the last batch
        while not stop.is_set():
            try:
                for batch in self._store.watch(patterns, next_revision, stop):
                    if attempt:
                        log.info(
                            "watch resumed", revision=next_revision, endpoint=endpoint(self._store)
                        )
                    attempt = failures = 0
                    self._status.set_connected(True)
                    self._status.heard(batch.revision)
                    if batch.events or batch.revision >= next_revision:
                        self._post(Received(generation, self._clock(), batch))
                    next_revision = max(next_revision, batch.revision + 1)
            except RevisionCompactedError as e:
                log.warning(
                    "watch position compacted, reading a full snapshot",
                    requested=next_revision,
                    compacted=e.compacted,
                )
                next_revision = self._resync(patterns, "compacted", generation) or next_revision
            except StoreError as e:
                # Unavailable, token expired, or refused (permissions being fixed): none
                # of these may end the watch silently while the daemon looks alive.
                if stop.is_set():
                    break
                attempt += 1
                self._status.set_connected(False)
                self._status.count("reconnects")
                if isinstance(e, WatchGapError):
                    # Separate watches per range (the etcd role does not cover the whole
                    # span) have no common revision to resume from: read everything again.
                    log.warning("watch broken, reading a full snapshot", error=str(e))
                    if attempt > 1:
                        # Failing again before the watch even connected: don't spin.
                        failures += 1
                        stop.wait(RECONNECT_BACKOFF.delay(failures))
                    next_revision = self._resync(patterns, "watch gap", generation) or next_revision
                    continue
                failures += 1
                delay = RECONNECT_BACKOFF.delay(failures)
                log.warning(
                    "watch broken, reconnecting",
                    error=str(e),
                    retry_in=round(delay, 2),
                    resume_from=next_revision,
                )
                stop.wait(delay)

    def _resync(self, patterns: list[str], reason: str, generation: int) -> int | None:
        """Queue a full snapshot for the main loop; the revision to watch from, or None."""
        try:
            snapshot = self._store.snapshot(patterns)
        except StoreError:
            return None  # the watch's own retry follows
        self._status.heard(snapshot.revision)
        self._post(Resync(generation, snapshot, reason))
        return snapshot.revision + 1

    def _post(self, item: Received | Resync) -> None:
        """Hand an item to the loop; the lag clock runs until the loop has dealt with it."""
        self._inbox.put(item)
        self._status.behind()
