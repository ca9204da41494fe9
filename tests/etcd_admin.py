"""What tests ask of etcd that confpy never does: its current revision, a compaction."""

from __future__ import annotations

from confpy.store import EtcdStore


def current_revision(store: EtcdStore) -> int:
    """etcd's revision now (the member's status: any authenticated user may ask)."""
    reply = store._rpc("status", "/maintenance/status", {})
    return int(reply["header"]["revision"])


def compact(store: EtcdStore, revision: int) -> None:
    """Compact etcd's history up to `revision`, physically (a watch from before it fails)."""
    store._rpc(
        "compaction", "/kv/compaction", {"revision": str(revision), "physical": True}, timeout=30
    )
