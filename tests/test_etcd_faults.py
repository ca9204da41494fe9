"""The daemon through etcd's own faults: wiped or replaced, frozen, restarted under a fleet."""

from __future__ import annotations

import random
import shutil
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.apply.runner import load_config
from confpy.config.settings import load_settings
from confpy.errors import (
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
    WatchGapError,
    WorkerDiedError,
)
from confpy.store import EtcdStore
from confpy.store._codec import header_int
from confpy.store.snapshot import Origin, Snapshot, WatchBatch
from confpy.testing.etcd import EtcdCluster, EtcdServer, free_port
from confpy.testing.memory import MemoryStore
from confpy.wakeup import Wakeup
from confpy.watch.daemon import Daemon
from confpy.watch.health import Status
from confpy.watch.options import Hooks, WatchOptions
from confpy.watch.watcher import FULL_READ_SPREAD, RECONNECT_BACKOFF, Inbox, Resync, Watcher
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher as WatchProcess
from tests.daemons import healthz, read
from tests.etcd_admin import current_revision
from tests.etcd_wipe import store_on
from tests.faults import dies_with_one_line
from tests.helpers import ConfTree

# -- item 8: etcd wiped or replaced -----------------------------------------------------------


@pytest.mark.etcd
@pytest.mark.parametrize("how", ["wiped", "replaced"])
def test_a_daemon_follows_an_etcd_that_was_wiped_or_replaced(
    own_etcd: EtcdServer, tree: ConfTree, how: str
) -> None:
    """wiped: the same cluster from revision 1 again; replaced: another cluster ID, whose
    revision passes the old one before the daemon is back. Either way the file comes to
    reflect the new etcd, and /healthz its revision, with one line saying why."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store = store_on(own_etcd)
    store.put("/app/v", b"old")
    for i in range(40):
        store.put("/app/n", str(i).encode())
    before = current_revision(store)
    store.close()
    port = free_port()
    confpy = Confpy(own_etcd.url)
    daemon = WatchProcess(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: read(dest) == "old", timeout=20, what="first render")
        wait_for(lambda: healthz(port)[1].get("revision") == before, what="the revision")
        own_etcd.stop()
        shutil.rmtree(own_etcd.data_dir)
        if how == "replaced":
            own_etcd.cluster_token = "another-cluster"
        own_etcd.start()
        store = store_on(own_etcd)
        store.put("/app/v", b"new")
        for i in range(60 if how == "replaced" else 0):
            store.put("/app/other", str(i).encode())
        now = current_revision(store)
        store.close()
        follows_the_new_etcd(dest, port, now)
    finally:
        code = daemon.stop()
        confpy.close()
    assert code == 0
    assert len(daemon.events("etcd went back, starting over from its current state")) == 1


@pytest.mark.etcd
def test_a_daemon_frozen_while_etcd_was_wiped_and_refilled_past_its_revision_follows(
    own_etcd: EtcdServer, tree: ConfTree
) -> None:
    """Same cluster ID, a revision already past the old one when the daemon is back: only
    the raft term (older than one heard before) tells that etcd went back."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    own_etcd.kill()
    own_etcd.start()  # a restart raises the raft term: a wiped etcd starts below it
    store = store_on(own_etcd)
    store.put("/app/v", b"old")
    before = current_revision(store)
    store.close()
    port = free_port()
    confpy = Confpy(own_etcd.url)
    daemon = WatchProcess(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: read(dest) == "old", timeout=20, what="first render")
        wait_for(lambda: healthz(port)[1].get("in_sync"), timeout=20, what="in sync")
        daemon.proc.send_signal(signal.SIGSTOP)
        try:
            own_etcd.kill()
            shutil.rmtree(own_etcd.data_dir)
            own_etcd.start()
            store = store_on(own_etcd)
            store.put("/app/v", b"new")
            while current_revision(store) <= before + 5:
                store.put("/other", b"x")
            now = current_revision(store)
            store.close()
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        follows_the_new_etcd(dest, port, now)
    finally:
        code = daemon.stop()
        confpy.close()
    assert code == 0
    went_back = daemon.events("etcd went back, starting over from its current state")
    assert [e["how"] for e in went_back] == ["raft term went back from 3 to 2"]


def follows_the_new_etcd(dest: Path, port: int, revision: int) -> None:
    """The file comes to hold the new etcd's value, and /healthz its revision, in sync."""
    wait_for(lambda: read(dest) == "new", timeout=30, what="the new etcd's value")
    wait_for(
        lambda: (h := healthz(port)[1]).get("revision") == revision and h.get("in_sync"),
        timeout=20,
        what=f"/healthz in sync at revision {revision}",
    )


class _WentBack(MemoryStore):
    """Delivers one batch (etcd at revision 41, term 5), then acts as an etcd that came
    back as `after` at revision `revision`."""

    def __init__(self, after: Origin, revision: int) -> None:
        super().__init__({"/a": b"1"})
        self.after, self.revision_after = after, revision
        self.calls = 0

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        self.calls += 1
        if self.calls == 1:
            yield WatchBatch(start_revision - 1, (), Origin(7, 5), start_revision - 1)
            raise StoreUnavailableError("etcd went away")
        yield WatchBatch(start_revision - 1, (), self.after, self.revision_after)
        stop.wait()

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        if self.calls > 1:
            return Snapshot(self.revision_after, {}, origin=self.after)
        return Snapshot(41, {}, origin=Origin(7, 5))


@pytest.mark.parametrize(
    ("after", "revision", "how"),
    [
        (Origin(7, 6), 1, "revision went back from 41 to 1"),
        (Origin(8, 2), 90, "cluster ID 7 replaced by 8"),
        (Origin(7, 2), 90, "raft term went back from 5 to 2"),
    ],
    ids=["wiped", "replaced", "wiped-and-refilled-past"],
)
def test_the_watcher_queues_a_resync_when_etcd_went_back(
    after: Origin, revision: int, how: str
) -> None:
    """A header below what was received, from another cluster or from an older raft term
    is checked by a read; if that says the same, the watcher starts over from it."""
    store = _WentBack(after, revision)
    inbox = Inbox(Wakeup(()))
    watcher = Watcher(store, Status(), inbox, lambda: 0.0, pause=lambda stop, s: None)
    watcher.start(["/a"], start_revision=42, origin=Origin(7, 5))
    try:
        item = wait_for(lambda: _first_resync(inbox), what="a resync")
    finally:
        watcher.stop()
    assert isinstance(item, Resync)
    assert (item.snapshot.revision, item.went_back) == (revision, how)


def test_a_member_that_lags_is_not_taken_for_an_etcd_that_went_back() -> None:
    """A restarted member's header (older term, lower revision) before it caught up: the
    linearizable read says all is well, and nothing is queued."""
    store = _WentBack(Origin(7, 4), 30)
    store.snapshot = lambda patterns: Snapshot(45, {}, origin=Origin(7, 6))  # type: ignore[method-assign]
    inbox = Inbox(Wakeup(()))
    status = Status()
    watcher = Watcher(store, status, inbox, lambda: 0.0, pause=lambda stop, s: None)
    watcher.start(["/a"], start_revision=42, origin=Origin(7, 5))
    try:
        wait_for(lambda: watcher.origin == Origin(7, 6), what="the check")
    finally:
        watcher.stop()
    assert _first_resync(inbox) is None
    assert not status.resync_pending


def _first_resync(inbox: Inbox) -> Resync | None:
    while (item := inbox.take()) is not None:
        if isinstance(item, Resync):
            return item
    return None


# -- item 9: in_sync means "known to be in sync" ------------------------------------------------


def _in_sync_status() -> Status:
    status = Status(lambda: 0.0)
    status.mark_started()
    status.set_connected(True)
    status.set_synced(True)
    status.heard(5)
    status.set_revision(5)
    return status


@pytest.mark.parametrize(
    "doubt",
    ["disconnected", "resync pending", "change on its way", "etcd ahead", "silent"],
)
def test_in_sync_is_false_whenever_the_daemon_cannot_know(doubt: str) -> None:
    """Each reason to doubt alone makes in_sync false; without any, it is true."""
    status = _in_sync_status()
    assert status.health()["in_sync"] is True
    if doubt == "disconnected":
        status.set_connected(False)
    elif doubt == "resync pending":
        status.resync_needed()
    elif doubt == "change on its way":
        status.behind()
    elif doubt == "etcd ahead":
        status.heard(6)
    else:
        status.set_bounds(30.0, silent_after=0.5)
        status.clock = lambda: 1.0
    assert status.health()["in_sync"] is False


@pytest.mark.etcd
def test_in_sync_is_false_while_etcd_is_frozen_and_true_once_it_thaws(
    own_etcd: EtcdServer, tree: ConfTree
) -> None:
    """SIGSTOP on the only member: the daemon cannot know, so /healthz must not say so."""
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store = store_on(own_etcd)
    store.put("/app/v", b"1")
    watched = EtcdStore(
        load_settings({"endpoints": own_etcd.url, "confdir": "/nonexistent"}, {}), timeout=1.0
    )
    watched.progress_interval = 1.0  # notice a frozen etcd within seconds, not tens
    daemon = Daemon(load_config(tree.confdir), watched, WatchOptions(max_lag=1.0))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    assert own_etcd.process is not None
    try:
        wait_for(lambda: daemon.status.health()["in_sync"], timeout=20, what="in sync")
        own_etcd.process.send_signal(signal.SIGSTOP)
        try:
            wait_for(
                lambda: daemon.status.health()["in_sync"] is False,
                timeout=30,
                what="in_sync false while etcd is frozen",
            )
        finally:
            own_etcd.process.send_signal(signal.SIGCONT)
        revision = store.put("/app/v", b"2")
        wait_for(
            lambda: (h := daemon.status.health())["in_sync"] and h["revision"] == revision,
            timeout=30,
            what="in sync again, at the new revision",
        )
    finally:
        daemon.stop()
        thread.join(timeout=20)
        store.close()


@pytest.mark.etcd
def test_healthz_in_sync_is_false_while_the_cluster_has_lost_quorum(
    tmp_path: Path, tree: ConfTree
) -> None:
    """Two of three members down: 503 "not connected" and in_sync false for the whole
    outage; both back (and a change made): 200 and in sync again."""
    cluster = EtcdCluster.create(tmp_path / "cluster", 3)
    cluster.start()
    confpy = Confpy(",".join(cluster.urls))
    port = free_port()
    daemon: WatchProcess | None = None
    store = EtcdStore(load_settings({"endpoints": cluster.urls, "confdir": "/none"}, {}))
    try:
        tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
        store.put("/app/v", b"1")
        daemon = WatchProcess(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
        wait_for(lambda: healthz(port)[1].get("in_sync"), timeout=20, what="in sync")
        cluster.members[1].kill()
        cluster.members[2].kill()
        _, health = wait_for(
            lambda: (r := healthz(port))[0] == 503 and r,  # type: ignore[misc]
            timeout=30,
            what="503 once quorum is lost",
        )
        assert health["in_sync"] is False, health  # type: ignore[index]
        cluster.members[1].start(wait=False)
        cluster.members[2].start()
        revision = wait_for(lambda: _put(store, "/app/v", b"2"), timeout=30, what="a write")
        wait_for(
            lambda: (h := healthz(port)[1]).get("in_sync") and h.get("revision") == revision,
            timeout=30,
            what="in sync again at the new revision",
        )
    finally:
        if daemon is not None:
            daemon.stop()
        confpy.close()
        store.close()
        cluster.stop()


def _put(store: EtcdStore, key: str, value: bytes) -> int:
    try:
        return store.put(key, value)
    except StoreError:
        return 0


def test_a_sighup_configuration_whose_keys_etcd_refuses_is_refused_and_the_daemon_goes_on(
    tree: ConfTree,
) -> None:
    """An etcd error class on reload (a role that does not cover the new keys) must not
    end the daemon: the new configuration is refused, the running one keeps following."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])

    class Roles(MemoryStore):
        def snapshot(self, patterns: Sequence[str]) -> Snapshot:
            if "/secret" in patterns:
                raise StoreAccessError("etcd refused snapshot read: permission denied")
            return super().snapshot(patterns)

    store = Roles({"/app/v": "1"})
    daemon = Daemon(
        load_config(tree.confdir),
        store,
        WatchOptions(),
        Hooks(load_config=lambda: load_config(tree.confdir)),
    )
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
        tree.simple("secret", "{{ getv('/secret/v') }}", ["/secret"])
        daemon.request_reload()
        wait_for(lambda: daemon.status.health()["config_error"], what="the refusal")
        assert "permission denied" in str(daemon.status.health()["config_error"])
        store.put("/app/v", b"2")
        wait_for(lambda: read(dest) == "2", what="the running configuration follows etcd")
        assert thread.is_alive()
    finally:
        daemon.stop()
        thread.join(timeout=20)


def test_a_daemon_starting_while_etcd_answers_errors_retries_until_it_reads(
    tree: ConfTree,
) -> None:
    """An etcd error of any class but a refused login (here "too many requests", as an
    etcd under a herd says) is retried at start, not an exit."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])

    class Busy(MemoryStore):
        reads = 0

        def snapshot(self, patterns: Sequence[str]) -> Snapshot:
            self.reads += 1
            if self.reads < 3:
                raise StoreError("etcd error during snapshot read: etcdserver: too many requests")
            return super().snapshot(patterns)

    daemon = Daemon(load_config(tree.confdir), Busy({"/app/v": "1"}), WatchOptions())
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: read(dest) == "1", what="the first render once etcd reads")
    finally:
        daemon.stop()
        thread.join(timeout=20)


# -- item 7 for the daemon: a dead watch thread ends it -----------------------------------------


def test_a_daemon_whose_watch_thread_dies_stops_with_one_error(tree: ConfTree) -> None:
    """A bug in the watch thread must not leave a daemon that looks alive and watches nothing."""
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])

    class Broken(MemoryStore):
        def watch(
            self, patterns: Sequence[str], start_revision: int, stop: threading.Event
        ) -> Iterator[WatchBatch]:
            raise KeyError("injected fault")

    daemon = Daemon(load_config(tree.confdir), Broken({"/app/v": "1"}), WatchOptions())
    with pytest.raises(WorkerDiedError, match="confpy-watch died: KeyError: 'injected fault'"):
        daemon.run()


@pytest.mark.parametrize("command", [["render", "--watch"], ["exec"]])
def test_a_command_whose_watch_thread_dies_exits_1_with_one_line(
    confpy: Confpy, store: EtcdStore, tree: ConfTree, command: list[str]
) -> None:
    """render --watch and exec (stopping its child) end with one line, no traceback."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    args = [*command, "--confdir", str(tree.confdir), *tail]
    dies_with_one_line(confpy, "confpy.store:EtcdStore.watch", args, "confpy-watch", "KeyError")
    assert read(dest) == "1"


# -- issue 20.2: no thundering herd ----------------------------------------------------------


class _BreaksOnce(MemoryStore):
    """A watch that breaks `breaks` times (with `error`), then ends the watcher (it sets
    `stop`)."""

    def __init__(self, breaks: int, error: Exception | None = None) -> None:
        super().__init__()
        self.breaks = breaks
        self.error = error or StoreUnavailableError("etcd restarting")

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        if self.breaks:
            self.breaks -= 1
            raise self.error
        stop.set()
        return iter(())


def fleet_waits(daemons: int, breaks: int, error: Exception | None = None) -> list[list[float]]:
    """The waits each of `daemons` watchers chose before reconnecting or reading, no real
    sleep."""
    fleet = []
    for i in range(daemons):
        waits: list[float] = []
        watcher = Watcher(
            _BreaksOnce(breaks, error),
            Status(),
            Inbox(Wakeup(())),
            lambda: 0.0,
            rng=random.Random(i),
            pause=lambda stop, seconds, waits=waits: waits.append(seconds),  # type: ignore[misc]
        )
        watcher.start(["/a"], start_revision=1)
        wait_for(lambda waits=waits: len(waits) == breaks, what="the reconnect waits")  # type: ignore[misc]
        watcher.stop()
        fleet.append(waits)
    return fleet


def test_a_fleet_reconnects_spread_over_the_first_window() -> None:
    """200 daemons whose streams break together: first reconnects uniform over [0, 1 s],
    so no 100 ms slot holds more than twice its share."""
    first = sorted(w[0] for w in fleet_waits(200, breaks=1))
    window = RECONNECT_BACKOFF.initial
    assert 0 <= first[0] < 0.05 * window and 0.95 * window < first[-1] <= window
    slots = [
        sum(1 for w in first if k * window / 10 <= w < (k + 1) * window / 10) for k in range(10)
    ]
    assert max(slots) <= 2 * 200 / 10, slots


def test_a_fleet_whose_position_was_compacted_spreads_its_full_reads_wider() -> None:
    """200 daemons that must all read everything again: over [0, 3 s], not one second."""
    waits = sorted(w[0] for w in fleet_waits(200, 1, RevisionCompactedError(1, 5)))
    window = FULL_READ_SPREAD.maximum
    assert 0 <= waits[0] < 0.05 * window and 0.95 * window < waits[-1] <= window
    per_second = [sum(1 for w in waits if k <= w < k + 1) for k in range(3)]
    assert max(per_second) <= 200 / 3 * 1.3, per_second


def test_reconnect_windows_grow_to_the_ceiling() -> None:
    """Failing again, each daemon waits in a window twice as wide, up to the maximum."""
    fleet = fleet_waits(100, breaks=5)
    for n in range(5):
        ceiling = min(RECONNECT_BACKOFF.maximum, RECONNECT_BACKOFF.initial * 2**n)
        waits = [w[n] for w in fleet]
        assert max(waits) <= ceiling
        assert max(waits) > 0.8 * ceiling  # the whole window is used


class _GapThenDown(MemoryStore):
    """A per-range watch breaks (a gap); the next two full reads fail, the third works."""

    def __init__(self) -> None:
        super().__init__({"/a": b"1"})
        self.watches = 0
        self.reads = 0

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        self.watches += 1
        if self.watches == 1:
            raise WatchGapError("stream broke")
        stop.wait()
        return iter(())

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        self.reads += 1
        if self.reads < 3:
            raise StoreUnavailableError("etcd restarting")
        return super().snapshot(patterns)


def test_a_watch_gap_is_bridged_by_a_snapshot_retried_with_spread_backoff() -> None:
    """No watch resumes across a gap without a snapshot, and no read is retried at once."""
    store, status, waits = _GapThenDown(), Status(), []
    inbox = Inbox(Wakeup(()))
    watcher = Watcher(
        store,
        status,
        inbox,
        lambda: 0.0,
        rng=random.Random(1),
        pause=lambda stop, seconds: waits.append(seconds),
    )
    watcher.start(["/a"], start_revision=2)
    try:
        item = wait_for(lambda: _first_resync(inbox), what="the resync")
        wait_for(lambda: store.watches == 2, what="the watch resumed after it")
    finally:
        watcher.stop()
    assert isinstance(item, Resync) and item.reason == "watch gap"
    # Each read waits its spread (up to 3 s); each failure the reconnect backoff.
    assert store.reads == 3 and len(waits) == 3 + 2
    assert all(w <= FULL_READ_SPREAD.maximum for w in waits)
    assert status.resync_pending  # until the daemon has applied the snapshot


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)


@given(header=_json | st.dictionaries(st.sampled_from(["cluster_id", "revision"]), _json))
def test_a_reply_header_that_lies_never_raises(header: object) -> None:
    """Whatever etcd (or something posing as it) puts in a header, it reads as a number."""
    assert header_int({"cluster_id": float("inf")}, "cluster_id") == 0
    assert isinstance(header_int(header, "cluster_id"), int)
    assert isinstance(header_int(header, "revision"), int)
