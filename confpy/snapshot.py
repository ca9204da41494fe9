"""The store's shape without etcd: snapshots, watch batches, the `Store` protocol, a memory store.

The runner and the daemon depend on `Store`; `confpy.store.EtcdStore` is the real one and
`MemoryStore` serves pure-logic unit tests. Values stay bytes until a template decodes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from confpy.errors import ConflictError, RevisionCompactedError
from confpy.keys import SortedKeys, matches_any, relative_view


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


class Store(Protocol):
    """What confpy needs from a key-value store."""

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

    def close(self) -> None: ...


class MemoryStore:
    """An in-process Store for unit tests: revisions, watches and compaction, no network."""

    def __init__(self, values: Mapping[str, bytes | str] | None = None) -> None:
        self._cond = threading.Condition()
        self._revision = 1
        self._compacted = 0
        self._data: dict[str, tuple[bytes, int]] = {}
        self._log: list[Event] = []
        for k, v in (values or {}).items():
            self.put(k, v.encode() if isinstance(v, str) else v)

    @property
    def revision(self) -> int:
        return self._revision

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        with self._cond:
            return Snapshot(
                self._revision,
                {k: v for k, (v, _) in self._data.items() if matches_any(patterns, k)},
            )

    def get(self, key: str) -> tuple[bytes | None, int]:
        with self._cond:
            value, rev = self._data.get(key, (None, 0))
            return value, rev

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        return self._apply({key: value}, [])

    def delete(self, key: str) -> int:
        return self._apply({}, [key])

    def put_atomic(
        self, values: Mapping[str, bytes], expect: Mapping[str, int], delete: Sequence[str] = ()
    ) -> int:
        with self._cond:
            for k, rev in expect.items():
                if self._data.get(k, (b"", 0))[1] != rev:
                    raise ConflictError(f"key {k} changed since revision {rev}")
            return self._apply(values, delete)

    def compact(self, revision: int | None = None) -> None:
        with self._cond:
            self._compacted = revision or self._revision
            self._log = [e for e in self._log if e.mod_revision > self._compacted]

    def _apply(self, puts: Mapping[str, bytes], deletes: Sequence[str]) -> int:
        with self._cond:
            self._revision += 1
            for k, v in puts.items():
                self._data[k] = (bytes(v), self._revision)
                self._log.append(Event(k, bytes(v), self._revision))
            for k in deletes:
                if self._data.pop(k, None) is not None:
                    self._log.append(Event(k, None, self._revision))
            self._cond.notify_all()
            return self._revision

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        next_rev = start_revision
        while not stop.is_set():
            with self._cond:
                if next_rev <= self._compacted:
                    raise RevisionCompactedError(next_rev, self._compacted + 1)
                pending = [e for e in self._log if e.mod_revision >= next_rev]
                if not pending:
                    self._cond.wait(timeout=0.05)
                    continue
                top = pending[-1].mod_revision
                next_rev = top + 1
            events = tuple(e for e in pending if matches_any(patterns, e.key))
            if events:
                yield WatchBatch(top, events)

    def close(self) -> None:
        pass
