"""The daemon's in-memory copy of the watched keys, kept at an exact etcd revision.

`Mirror` starts from a full snapshot and applies watch batches to it; `snapshot()` hands
the renderer a read-only view at the mirror's revision. Pure: no etcd, no threads.
"""

from __future__ import annotations

from types import MappingProxyType

from confpy.config.keys import SortedKeys
from confpy.store.snapshot import Origin, Snapshot, WatchBatch


class Mirror:
    """Every watched key's value at `revision`, with its keys kept sorted."""

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._keys = SortedKeys(())
        self.revision = 0
        # The revision of the last full snapshot: watch events at or below it are in the
        # mirror already. Not `revision`: with one watch per range, an event from one
        # range may arrive after a newer one from another, and must still be applied.
        self._snapshot_revision = 0
        self.origin = Origin()
        """The etcd the revisions belong to (see `Origin`)."""

    def replace(self, snapshot: Snapshot) -> bool:
        """Start over from `snapshot`; False (and nothing changes) when it is older."""
        if snapshot.revision < self.revision:
            return False
        self._values = dict(snapshot.values)
        self._keys = SortedKeys(self._values)
        self.revision = snapshot.revision
        self._snapshot_revision = snapshot.revision
        self.origin = self.origin.then(snapshot.origin)
        return True

    def went_back(self, snapshot: Snapshot) -> str | None:
        """How `snapshot`, read after everything the mirror holds, shows that etcd went
        back (wiped, replaced, restored from a backup), or None.

        A snapshot is a linearizable read: never older than what etcd delivered before it,
        nor from an older raft term, unless etcd itself went back; and revisions of another
        cluster say nothing of ours.
        """
        if how := self.origin.departed(snapshot.origin):
            return how
        if snapshot.revision < self.revision:
            return f"revision went back from {self.revision} to {snapshot.revision}"
        return None

    def reset(self) -> None:
        """Accept the next snapshot whatever its revision and cluster (a new configuration
        watches other keys, so an older revision of them is still news; etcd went back)."""
        self.revision = 0
        self.origin = Origin()

    def apply(self, batch: WatchBatch) -> list[str]:
        """Apply a watch batch; return the keys it changed, in order."""
        changed: list[str] = []
        for ev in batch.events:
            if ev.mod_revision <= self._snapshot_revision:
                continue  # already in the mirror through a newer snapshot
            if ev.value is None:
                self._values.pop(ev.key, None)
                self._keys.discard(ev.key)
            else:
                self._values[ev.key] = ev.value
                self._keys.add(ev.key)
            changed.append(ev.key)
        self.revision = max(self.revision, batch.revision)
        return changed

    def snapshot(self) -> Snapshot:
        """A read-only view at `revision`, valid until the next `apply` or `replace`."""
        return Snapshot(self.revision, MappingProxyType(self._values), self._keys)
