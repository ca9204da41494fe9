"""`MemoryStore`: an in-process `Store` for pure-logic unit tests (revisions, watches,
compaction), no network. Not used by the product."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence

from confpy.config.keys import matches_any
from confpy.errors import ConflictError, RevisionCompactedError, StoreError
from confpy.store.snapshot import Event, Snapshot, WatchBatch


class MemoryStore:
    """An in-process Store for unit tests: revisions, watches and compaction, no network."""

    def __init__(self, values: Mapping[str, bytes | str] | None = None) -> None:
        self._cond = threading.Condition()
        self._revision = 1
        self._compacted = 0
        self._data: dict[str, tuple[bytes, int]] = {}
        self._log: list[Event] = []
        self._leases: dict[int, set[str]] = {}
        self._next_lease = 0
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
        with self._cond:
            if lease is not None:
                if lease not in self._leases:
                    raise StoreError(f"lease {lease:x} not found")
                self._leases[lease].add(key)
            return self._apply({key: value}, [])

    def grant_lease(self, ttl: int) -> int:
        with self._cond:
            self._next_lease += 1
            self._leases[self._next_lease] = set()
            return self._next_lease

    def keep_alive(self, lease_id: int) -> int:
        """Leases never expire on their own here: `revoke_lease` stands for expiry."""
        with self._cond:
            return 1 if lease_id in self._leases else 0

    def revoke_lease(self, lease_id: int, *, timeout: float | None = None) -> None:
        with self._cond:
            keys = self._leases.pop(lease_id, set())
            self._apply({}, sorted(k for k in keys if k in self._data))

    def delete(self, key: str) -> int:
        return self._apply({}, [key])

    def cancelled_by(self, stop: threading.Event) -> contextlib.AbstractContextManager[None]:
        """Nothing here waits on a network: there is nothing to cancel."""
        return contextlib.nullcontext()

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
