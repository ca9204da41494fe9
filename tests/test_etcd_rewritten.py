"""An etcd wiped under the same cluster ID and raft term and refilled past the old revision
while the daemon was away is told by the keys the daemon knows (`confpy.watch.witness`), on the
watch's reconnect; a legitimate change while away is not taken for it."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.store.snapshot import Event
from confpy.testing.etcd import EtcdServer, free_port
from confpy.watch.witness import Witnesses
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, healthz, read
from tests.etcd_wipe import identity, store_on, wipe
from tests.helpers import ConfTree

WENT_BACK = "etcd went back, starting over from its current state"


def _daemon(own_etcd: EtcdServer, tree: ConfTree, port: int) -> tuple[Confpy, Watcher]:
    confpy = Confpy(own_etcd.url)
    # A resync interval far beyond the test: only the reconnect's check can repair the file.
    daemon = Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}", "--resync-interval", "1h")
    return confpy, daemon


@pytest.mark.etcd
def test_an_etcd_wiped_and_refilled_under_the_same_cluster_id_and_term_is_followed(
    own_etcd: EtcdServer, tree: ConfTree
) -> None:
    """The daemon is paused while etcd is wiped, started again with the same cluster ID and
    raft term, and refilled past the old revision with another value: nothing in a reply
    header tells, yet the file holds the new value within seconds, with one line."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store = store_on(own_etcd)
    store.put("/app/v", b"old")
    for i in range(20):
        store.put("/app/n", str(i).encode())
    store.close()
    cluster, term, before = identity(own_etcd)
    port = free_port()
    confpy, daemon = _daemon(own_etcd, tree, port)
    try:
        wait_for(lambda: read(dest) == "old", timeout=20, what="first render")
        store = store_on(own_etcd)
        store.put("/app/n", b"watched")  # heard through the watch: its stream is up
        store.close()
        before += 1
        wait_for(lambda: healthz(port)[1].get("revision") == before, what="the revision")
        daemon.proc.send_signal(signal.SIGSTOP)
        try:
            wipe(own_etcd)
            store = store_on(own_etcd)
            store.put("/app/v", b"new")  # at revision 2, below the old 22
            while identity(own_etcd)[2] <= before + 5:
                store.put("/elsewhere", b"x")
            store.close()
            after = identity(own_etcd)
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        assert after[:2] == (cluster, term), "the premise: same cluster ID and raft term"
        wait_for(lambda: read(dest) == "new", timeout=30, what="the new etcd's value")
        wait_for(
            lambda: healthz(port)[1].get("revision") == after[2],
            timeout=20,
            what="/healthz at the new etcd's revision",
        )
    finally:
        code = daemon.stop()
        confpy.close()
    assert code == 0
    went_back = daemon.events(WENT_BACK)
    assert [e["how"] for e in went_back] == ["key '/app/v' holds another value at revision 2"]


@pytest.mark.etcd
def test_a_change_made_while_the_daemon_was_away_is_not_taken_for_a_wipe(
    own_etcd: EtcdServer, tree: ConfTree
) -> None:
    """The daemon is paused, etcd restarted (its stream breaks), a known key changed and
    another left alone: the reconnect's check passes, the watch delivers the change."""
    dest = tree.simple("app", "{{ getv('/app/v') }}{{ getv('/app/w') }}", ["/app"])
    store = store_on(own_etcd)
    store.put("/app/v", b"old")
    store.put("/app/w", b"-same")
    store.close()
    port = free_port()
    confpy, daemon = _daemon(own_etcd, tree, port)
    try:
        wait_for(lambda: read(dest) == "old-same", timeout=20, what="first render")
        store = store_on(own_etcd)
        store.put("/app/v", b"mid")
        store.close()
        wait_for(lambda: read(dest) == "mid-same", what="a change heard: the stream is up")
        daemon.proc.send_signal(signal.SIGSTOP)
        try:
            own_etcd.kill()
            own_etcd.start()
            store = store_on(own_etcd)
            store.put("/app/v", b"new")
            store.close()
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: read(dest) == "new-same", timeout=30, what="the change made away")
        wait_for(lambda: daemon.events("watch resumed"), what="the stream resumed")
    finally:
        code = daemon.stop()
        confpy.close()
    assert code == 0
    assert daemon.events(WENT_BACK) == []


# -- the rule, without etcd -------------------------------------------------------------------

_keys = st.sampled_from(["/a", "/b", "/c", "/d", "/e"])
_changes = st.lists(st.tuples(_keys, st.none() | st.binary(max_size=3)), max_size=30)


def _etcd(changes: list[tuple[str, bytes | None]]) -> dict[str, tuple[bytes, int]]:
    """etcd's keys after `changes` (one revision each, from 2): value and mod revision."""
    state: dict[str, tuple[bytes, int]] = {}
    for revision, (key, value) in enumerate(changes, start=2):
        if value is None:
            state.pop(key, None)
        else:
            state[key] = (value, revision)
    return state


def _witnesses(seen: list[tuple[str, bytes | None]]) -> Witnesses:
    w = Witnesses()
    for revision, (key, value) in enumerate(seen, start=2):
        w.saw(Event(key, value, revision))
    return w


def _get(state: dict[str, tuple[bytes, int]]) -> Callable[[str], tuple[bytes | None, int]]:
    return lambda key: state.get(key, (None, 0))


@given(_changes, _changes)
def test_a_history_that_only_went_on_is_never_taken_for_a_rewritten_one(
    seen: list[tuple[str, bytes | None]], later: list[tuple[str, bytes | None]]
) -> None:
    """Whatever the daemon saw up to revision K and whatever changed after K while it was
    away (puts, deletes, the known keys themselves), the check finds nothing."""
    known = len(seen) + 1
    now = _etcd(seen + later)
    assert _witnesses(seen).rewritten(_get(now), known) is None


@given(_changes, st.binary(max_size=3), st.integers(min_value=0, max_value=10))
def test_a_known_key_rewritten_at_or_below_the_known_revision_is_told(
    seen: list[tuple[str, bytes | None]], value: bytes, extra: int
) -> None:
    """A new history whose first change puts another value in the last key the daemon
    saw change, then goes past the known revision on other keys, is told."""
    seen = [*seen, ("/a", b"old")]
    known = len(seen) + 1
    rewritten = [("/a", b"\xff" + value), *[("/z", b"x")] * (known + extra)]
    assert _witnesses(seen).rewritten(_get(_etcd(rewritten)), known) is not None


def test_nothing_known_reads_nothing() -> None:
    """Before any key is known (an empty snapshot, no change yet) the check reads nothing."""

    def get(key: str) -> tuple[bytes | None, int]:
        raise AssertionError(f"read {key}")

    assert not Witnesses({})
    assert Witnesses({}).rewritten(get, 10) is None


def test_a_key_seen_absent_that_changed_at_or_below_the_known_revision_is_told() -> None:
    """A key the daemon saw deleted, present in etcd with a last change at or below K."""
    w = _witnesses([("/a", b"1"), ("/a", None)])
    assert w.rewritten(_get({"/a": (b"1", 2)}), 3) == (
        "key '/a' changed at revision 2, where it was absent"
    )


def test_a_key_seen_from_a_snapshot_is_compared_by_value() -> None:
    """A key known only from a snapshot (no mod revision): the same value at or below K
    passes, another one is told."""
    w = Witnesses({"/a": b"1"})
    assert w.rewritten(_get({"/a": (b"1", 5)}), 9) is None
    assert w.rewritten(_get({"/a": (b"2", 5)}), 9) == "key '/a' holds another value at revision 5"
