"""EtcdStore against a real etcd: reads at one revision, transactions, leases, the watch."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.errors import ConflictError, RevisionCompactedError, StoreUnavailableError
from confpy.store import EtcdStore, prefix_end
from confpy.store.snapshot import WatchBatch
from confpy.testing.etcd import EtcdServer
from tests.conftest import wait_for
from tests.etcd_admin import compact, current_revision

pytestmark = pytest.mark.etcd


def store_on(url: str) -> EtcdStore:
    return EtcdStore(load_settings({"endpoints": url, "confdir": "/nonexistent"}, {}))


class Follower:
    """Runs `store.watch` in a thread and collects what it yields or raises."""

    def __init__(self, store: EtcdStore, patterns: list[str], start: int) -> None:
        self.stop = threading.Event()
        self.batches: list[WatchBatch] = []
        self.error: BaseException | None = None
        self._iter = store.watch(patterns, start, self.stop)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for batch in self._iter:
                self.batches.append(batch)
        except BaseException as e:  # handed to the test
            self.error = e

    def events(self) -> list[tuple[str, bytes | None, int]]:
        return [(e.key, e.value, e.mod_revision) for b in list(self.batches) for e in b.events]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.fixture
def followers() -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for f in started:
        f.close()


def test_prefix_end_covers_every_key_with_the_prefix() -> None:
    """The range end is the prefix with its last byte below 0xff incremented."""
    assert prefix_end(b"/app/") == b"/app0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\0"


def test_snapshot_of_more_ranges_than_one_transaction_allows_is_at_one_revision(
    store: EtcdStore,
) -> None:
    """150 patterns need two transactions (etcd allows 128 operations); both read at the
    revision the first one saw, so a write in between is not half seen."""
    for i in range(150):
        store.put(f"/many/k{i:03d}", str(i).encode())
    patterns = [f"/many/k{i:03d}" for i in range(150)]
    snapshot = store.snapshot(patterns)
    assert len(snapshot.values) == 150
    assert snapshot.revision == current_revision(store)
    store.put("/many/k149", b"later")
    assert store.snapshot(patterns).values["/many/k149"] == b"later"


def test_values_are_bytes_as_written(store: EtcdStore) -> None:
    """Values (even non-UTF-8 and empty ones) come back byte for byte."""
    store.put("/bin/raw", b"\xff\x00\xfe")
    store.put("/bin/empty", b"")
    assert store.snapshot(["/bin"]).values == {"/bin/raw": b"\xff\x00\xfe", "/bin/empty": b""}
    assert store.get("/bin/empty")[0] == b""
    assert store.get("/bin/absent") == (None, 0)


def test_put_atomic_writes_and_deletes_in_one_revision_when_compares_hold(store: EtcdStore) -> None:
    """Puts and deletes land in the same revision if every expected mod revision holds."""
    rev = store.put("/tx/old", b"x")
    new_rev = store.put_atomic(
        {"/tx/a": b"1", "/tx/b": b"2"}, {"/tx/old": rev, "/tx/absent": 0}, delete=["/tx/old"]
    )
    assert store.get("/tx/a") == (b"1", new_rev)
    assert store.get("/tx/b") == (b"2", new_rev)
    assert store.get("/tx/old") == (None, 0)


def test_put_atomic_writes_nothing_when_a_compare_fails(store: EtcdStore) -> None:
    """Another writer moved a key: ConflictError, and not one key was written or deleted."""
    rev = store.put("/tx/k", b"1")
    store.put("/tx/k", b"2")
    with pytest.raises(ConflictError):
        store.put_atomic({"/tx/n": b"new"}, {"/tx/k": rev}, delete=["/tx/k"])
    assert store.get("/tx/n") == (None, 0)
    assert store.get("/tx/k")[0] == b"2"


def test_lease_keeps_its_key_until_revoked(store: EtcdStore) -> None:
    """grant, put under the lease, keep alive (TTL back), revoke: the key goes; revoking again is fine."""
    lease = store.grant_lease(30)
    store.put("/lease/k", b"v", lease=lease)
    assert 0 < store.keep_alive(lease) <= 30
    store.revoke_lease(lease)
    assert store.get("/lease/k") == (None, 0)
    assert store.keep_alive(lease) == 0
    store.revoke_lease(lease)


def test_watch_starts_with_a_progress_batch_then_delivers_a_transaction_in_one_batch(
    store: EtcdStore, followers: list[Follower]
) -> None:
    """The created reply yields (start - 1, ()); one transaction is one batch; unwatched keys are dropped."""
    start = store.put("/w/a", b"0") + 1
    followers.append(f := Follower(store, ["/w/a", "/w/c"], start))
    wait_for(lambda: f.batches, what="the created batch")
    assert f.batches[0] == WatchBatch(start - 1, ())
    rev = store.put_atomic({"/w/a": b"1", "/w/b": b"ignored", "/w/c": b"3"}, {})
    wait_for(lambda: f.events(), what="the transaction")
    batch = next(b for b in f.batches if b.events)
    assert batch.revision == rev
    assert [(e.key, e.value) for e in batch.events] == [("/w/a", b"1"), ("/w/c", b"3")]


def test_watch_delivers_deletes_as_none(store: EtcdStore, followers: list[Follower]) -> None:
    """A delete is an event with value None."""
    start = store.put("/d/k", b"1") + 1
    followers.append(f := Follower(store, ["/d"], start))
    rev = store.delete("/d/k")
    wait_for(lambda: f.events(), what="the delete")
    assert f.events() == [("/d/k", None, rev)]


def test_watch_from_a_compacted_revision_raises_with_the_compact_revision(store: EtcdStore) -> None:
    """etcd cancels a watch whose start is compacted; the error carries where history begins."""
    first = store.put("/c/k", b"1")
    last = store.put("/c/k", b"2")
    store.put("/c/k", b"3")
    compact(store, last)
    with pytest.raises(RevisionCompactedError) as info:
        list(store.watch(["/c"], first, threading.Event()))
    assert info.value.compacted == last


def test_setting_stop_ends_a_quiet_watch_at_once(
    store: EtcdStore, followers: list[Follower]
) -> None:
    """Stop closes the watch's connection: the generator ends without waiting for etcd."""
    store.progress_interval = 3600
    followers.append(f := Follower(store, ["/quiet"], current_revision(store) + 1))
    wait_for(lambda: f.batches, what="the created batch")
    f.stop.set()
    wait_for(lambda: not f.thread.is_alive(), timeout=2, what="the watch to end")
    assert f.error is None


def test_an_idle_watch_follows_etcds_own_progress_notifications(
    tmp_path: Path, followers: list[Follower]
) -> None:
    """No event for the watched keys while others change: etcd's own progress
    notifications (here every 0.5 s) carry the watch's revision up to etcd's."""
    server = EtcdServer(
        tmp_path / "data", extra_args=("--experimental-watch-progress-notify-interval=500ms",)
    )
    server.start()
    try:
        idle_store = store_on(server.url)
        followers.append(f := Follower(idle_store, ["/idle"], current_revision(idle_store) + 1))
        wait_for(lambda: f.batches, what="the created batch")
        elsewhere = idle_store.put("/elsewhere", b"x")
        wait_for(lambda: f.batches[-1].revision >= elsewhere, what="progress past the other write")
        assert f.events() == []
        assert f.error is None
        idle_store.close()
    finally:
        server.stop()


class FreezingProxy:
    """A TCP proxy to etcd; `freeze()` stops passing etcd's bytes on the connections open now."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen: list[threading.Event] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            frozen = threading.Event()
            self.frozen.append(frozen)
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, frozen), daemon=True
            ).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, frozen: threading.Event | None) -> None:
        try:
            while data := src.recv(65536):
                if frozen is not None and frozen.is_set():
                    continue  # swallowed: the stream looks alive to TCP but says nothing
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # Shutting both ends down wakes the other pump; each pump closes its own source.
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            src.close()

    def freeze(self) -> None:
        for event in self.frozen:
            event.set()

    def close(self) -> None:
        self.listener.close()


def test_a_stream_that_stalls_is_replaced_without_losing_an_event(
    store: EtcdStore, etcd_server: EtcdServer, followers: list[Follower]
) -> None:
    """The watch connection stops delivering (a stuck proxy, a half-open link) while a key
    changes: etcd still answers, but after stream_silence without a message (not even a
    progress notification) the store opens a new stream from the last revision it delivered, and the change arrives exactly once."""
    proxy = FreezingProxy(etcd_server.client_port)
    try:
        proxied = store_on(f"http://127.0.0.1:{proxy.port}")
        proxied.progress_interval = 0.2
        proxied.timing.stream_silence = 1.0
        followers.append(f := Follower(proxied, ["/stall"], current_revision(store) + 1))
        wait_for(lambda: f.batches, what="the created batch")
        proxy.freeze()
        rev = store.put("/stall/k", b"while-frozen")
        wait_for(lambda: f.events(), what="the change through a new stream")
        after = store.put("/stall/k", b"after")
        wait_for(lambda: len(f.events()) == 2, what="the next change")
        assert f.events() == [("/stall/k", b"while-frozen", rev), ("/stall/k", b"after", after)]
        assert f.error is None
        proxied.close()
    finally:
        proxy.close()


def test_a_frozen_etcd_makes_the_watch_raise_silent(
    tmp_path: Path, followers: list[Follower]
) -> None:
    """etcd stops answering (SIGSTOP): within the check interval and a request timeout the
    watch raises StoreUnavailableError, so the daemon reconnects and /healthz can tell."""
    server = EtcdServer(tmp_path / "data")
    server.start()
    try:
        frozen_store = EtcdStore(
            load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}), timeout=1.0
        )
        frozen_store.progress_interval = 0.5
        followers.append(f := Follower(frozen_store, ["/x"], current_revision(frozen_store) + 1))
        wait_for(lambda: f.batches, what="the created batch")
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            wait_for(lambda: f.error is not None, timeout=10, what="the watch to give up")
            noticed = time.monotonic() - frozen_at
        finally:
            server.process.send_signal(signal.SIGCONT)
        # The documented bound: a check interval (jitter included) plus a request timeout.
        assert noticed < frozen_store.progress_interval + 1.0
        assert isinstance(f.error, StoreUnavailableError)
        assert "liveness check" in str(f.error)
    finally:
        server.stop()


@pytest.mark.slow
def test_a_member_that_loses_quorum_ends_the_watch(tmp_path: Path) -> None:
    """Two of three members die: the survivor has no leader and cannot see new writes, so
    its watch ends (the store asks for a leader) and the caller reconnects elsewhere."""
    from confpy.testing.etcd import EtcdCluster

    cluster = EtcdCluster.create(tmp_path)
    cluster.start()
    try:
        survivor = EtcdStore(
            load_settings({"endpoints": cluster.members[0].url, "confdir": "/nonexistent"}, {})
        )
        survivor.progress_interval = 3600  # the leader check, not the silence check, must end it
        f = Follower(survivor, ["/q"], current_revision(survivor) + 1)
        wait_for(lambda: f.batches, what="the created batch")
        cluster.members[1].kill()
        cluster.members[2].kill()
        wait_for(lambda: f.error is not None, timeout=15, what="the watch to end")
        assert isinstance(f.error, StoreUnavailableError)
        f.close()
    finally:
        cluster.stop()
