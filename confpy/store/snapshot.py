"""The store's shape without etcd: snapshots, watch batches and the `Store` protocol.

The runner and the daemon depend on `Store`; `confpy.store.EtcdStore` is the real one and
`confpy.testing.memory.MemoryStore` serves pure-logic unit tests. Values stay bytes until a
template decodes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from confpy.config.keys import SortedKeys, relative_view


@dataclass(frozen=True)
class Origin:
    """Which etcd answered, from a reply header: its cluster ID and raft term (0: unknown).

    Both only grow while an etcd cluster lives: a new cluster ID, or a term below one
    already seen in a linearizable answer, means etcd was wiped, replaced or restored.
    """

    cluster_id: int = 0
    raft_term: int = 0

    def departed(self, later: Origin) -> str | None:
        """How `later`, answered after this, shows etcd went back; None if it does not."""
        if self.cluster_id and later.cluster_id and later.cluster_id != self.cluster_id:
            return f"cluster ID {self.cluster_id:x} replaced by {later.cluster_id:x}"
        if later.raft_term and later.raft_term < self.raft_term:
            return f"raft term went back from {self.raft_term} to {later.raft_term}"
        return None

    def then(self, later: Origin) -> Origin:
        """What is known once `later` has answered too (a new cluster starts over)."""
        if later.cluster_id and later.cluster_id != self.cluster_id:
            return later
        return Origin(self.cluster_id, max(self.raft_term, later.raft_term))


@dataclass(frozen=True)
class Snapshot:
    """Every value under some patterns, read at one etcd revision.

    `values` must not change while the snapshot is in use: its sorted key index is built
    on first use and kept.
    """

    revision: int
    values: Mapping[str, bytes] = field(default_factory=dict)
    sorted_keys: SortedKeys | None = field(default=None, compare=False, repr=False)
    """The keys of `values` sorted, when the caller keeps them up to date (the daemon)."""
    origin: Origin = field(default=Origin(), compare=False)
    """Which etcd answered (see `Origin`)."""

    @cached_property
    def index(self) -> SortedKeys:
        """The keys of `values`, sorted, to find each resource's keys by range."""
        return self.sorted_keys if self.sorted_keys is not None else SortedKeys(self.values)

    def view(self, prefix: str, patterns: Sequence[str]) -> dict[str, bytes]:
        """A resource's keys relative to `prefix` (see `keys.relative_view`), found by range."""
        return relative_view(self.values, prefix, patterns, index=self.index)


@dataclass(frozen=True)
class Event:
    """One key changed: `value` is None for a delete."""

    key: str
    value: bytes | None
    mod_revision: int


@dataclass(frozen=True)
class WatchBatch:
    """Events that etcd delivered together, all at or below `revision`."""

    revision: int
    events: tuple[Event, ...]
    # Not compared: they say who sent the batch and when, not what it holds.
    origin: Origin = field(default=Origin(), compare=False)
    """Which etcd sent the batch (see `Origin`)."""
    header_revision: int = field(default=0, compare=False)
    """etcd's own revision when it sent the batch (0: unknown). Below a revision already
    received, etcd went back (wiped, restored) or the member lags the others."""


class Store(Protocol):
    """What confpy needs from a key-value store: the one protocol every consumer names
    (the daemon and runner read and watch, `tls rotate` writes in transactions, `register`
    holds a lease). `confpy.store.EtcdStore` is the real one."""

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        """Read every key matching `patterns` (each key and its subtree) at one revision."""
        ...

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        """Yield changes from `start_revision` on, until `stop` is set or the stream fails.

        Raises RevisionCompactedError when `start_revision` is gone, StoreUnavailableError
        when the stream breaks. Yields empty batches as progress notifications.
        """
        ...

    def get(self, key: str) -> tuple[bytes | None, int]:
        """The value and mod revision of one key; (None, 0) when absent."""
        ...

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        """Write one key; return the new revision."""
        ...

    def delete(self, key: str) -> int: ...

    def put_atomic(
        self, values: Mapping[str, bytes], expect: Mapping[str, int], delete: Sequence[str] = ()
    ) -> int:
        """Write `values` and delete `delete` in one transaction if every `expect` key still
        has that mod revision (0 = absent); raise ConflictError otherwise. Return the new
        revision."""
        ...

    def grant_lease(self, ttl: int) -> int:
        """A new lease of `ttl` seconds; its id."""
        ...

    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease; its remaining TTL, 0 when it has expired."""
        ...

    def revoke_lease(self, lease_id: int, *, timeout: float | None = None) -> None:
        """End a lease now: every key put under it is deleted. `timeout` bounds the
        exchange (default: the store's own)."""
        ...

    def cancelled_by(self, stop: threading.Event) -> AbstractContextManager[None]:
        """Exchanges the calling thread starts inside end at once when `stop` is set (as a
        `StoreUnavailableError`): a worker stops without waiting for a timeout."""
        ...

    def close(self) -> None: ...
