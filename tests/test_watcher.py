"""The watch thread resumes exactly where it stopped, and marks what a stopped watch sends."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from confpy.errors import StoreUnavailableError
from confpy.store.snapshot import Event, WatchBatch
from confpy.testing.memory import MemoryStore
from confpy.wakeup import Wakeup
from confpy.watch.health import Status
from confpy.watch.watcher import Inbox, Received, Watcher
from tests.conftest import wait_for


class FlakyStore(MemoryStore):
    """Delivers revision 5, breaks, fails once more, then delivers revision 6."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[int] = []

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        self.starts.append(start_revision)
        if len(self.starts) == 1:
            yield WatchBatch(5, (Event("/a", b"5", 5),))
            raise StoreUnavailableError("connection reset")
        if len(self.starts) == 2:
            raise StoreUnavailableError("still down")
        yield WatchBatch(6, (Event("/a", b"6", 6),))
        stop.wait()


def collect(inbox: Inbox, into: list[Received]) -> bool:
    while (item := inbox.take()) is not None:
        assert isinstance(item, Received)
        into.append(item)
    return len(into) >= 2


def test_a_broken_watch_resumes_from_the_last_received_revision_plus_one() -> None:
    store, status = FlakyStore(), Status()
    inbox = Inbox(Wakeup(()))
    watcher = Watcher(store, status, inbox, clock=lambda: 0.0)
    got: list[Received] = []
    watcher.start(["/a"], start_revision=3)
    try:
        wait_for(lambda: collect(inbox, got), what="both batches")
    finally:
        watcher.stop()
    assert store.starts == [3, 6, 6]
    assert [r.batch.revision for r in got] == [5, 6]
    assert status.counters["reconnects"] == 2


def test_items_from_a_stopped_watch_carry_an_older_generation() -> None:
    """After stop(), the daemon can tell the old thread's late deliveries from the new's."""
    watcher = Watcher(MemoryStore(), Status(), Inbox(Wakeup(())), clock=lambda: 0.0)
    before = watcher.generation
    watcher.start(["/a"], start_revision=1)
    watcher.stop()
    assert watcher.generation == before + 1
