"""The daemon's mirror of the watched keys: snapshots and watch batches; pure, no etcd."""

from __future__ import annotations

from confpy.store.snapshot import Event, Snapshot, WatchBatch
from confpy.watch.mirror import Mirror


def mirror_at(revision: int, values: dict[str, bytes]) -> Mirror:
    m = Mirror()
    assert m.replace(Snapshot(revision, values))
    return m


def test_a_batch_sets_and_deletes_keys_and_reports_them_in_order() -> None:
    m = mirror_at(5, {"/a": b"1", "/b": b"2"})
    changed = m.apply(WatchBatch(6, (Event("/b", None, 6), Event("/c", b"3", 6))))
    assert changed == ["/b", "/c"]
    snap = m.snapshot()
    assert snap.revision == 6 and dict(snap.values) == {"/a": b"1", "/c": b"3"}
    assert snap.index.matching(["/"]) == ["/a", "/c"]  # the sorted index kept in step


def test_events_already_in_the_snapshot_are_skipped() -> None:
    """An event at or below the snapshot's revision is old news: not applied, not reported."""
    m = mirror_at(10, {"/a": b"new"})
    assert m.apply(WatchBatch(10, (Event("/a", b"old", 9),))) == []
    assert dict(m.snapshot().values) == {"/a": b"new"}


def test_an_older_event_from_another_range_is_still_applied() -> None:
    """Per-range watches: revision 4 of /b may arrive after revision 5 of /a."""
    m = mirror_at(3, {})
    m.apply(WatchBatch(5, (Event("/a", b"a5", 5),)))
    assert m.apply(WatchBatch(4, (Event("/b", b"b4", 4),))) == ["/b"]
    assert m.revision == 5


def test_an_older_snapshot_is_refused_until_reset() -> None:
    m = mirror_at(8, {"/a": b"1"})
    assert not m.replace(Snapshot(7, {"/a": b"0"}))
    assert dict(m.snapshot().values) == {"/a": b"1"}
    m.reset()
    assert m.replace(Snapshot(7, {"/x": b"x"}))
    assert m.revision == 7 and dict(m.snapshot().values) == {"/x": b"x"}


def test_the_snapshot_view_is_read_only() -> None:
    import pytest

    view = mirror_at(1, {"/a": b"1"}).snapshot().values
    with pytest.raises(TypeError):
        view["/a"] = b"2"  # type: ignore[index]
