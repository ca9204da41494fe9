"""The status record a daemon publishes under `--report-prefix`, and the thread that does.

The record (JSON, at `PREFIX/ID`, under a lease of `REPORT_TTL` seconds kept by a
`confpy.fleet.register.Registration`, refreshed every ttl/2 or a little less) says what the
daemon's `/healthz` says, per resource the checksum of the installed file, and the etcd
revision every file reflects. It never holds a value or a line of a file. It is rebuilt
from `health.Status` once a second (local work, no request) and put when it changed: at
most once a second, and at most every `REVISION_ONLY_EVERY` seconds when only the
revision moved: etcd's revision moves with every write anywhere (the progress
notifications of an idle watch carry it), other daemons' records included, and a move
caused by this record's own put is no news at all.

A change of state alone (`in_sync`, `healthy`, a failure, a wait; no installed file
changed) waits a random 0..`STATE_SPREAD` seconds first: such changes usually have one
cause for the whole fleet (etcd restarted, failed over, went away), and every daemon
putting its record in the same second is a herd. A change of an installed file is put
at once (within the 1 s rate limit), so that `confpy status --wait-revision` stays quick.
The wait also moves each daemon's keep-alives (which follow its put) to a phase of its own,
and each refresh interval is drawn anew (`KEEPALIVE_JITTER`), so that keep-alives that
once coincided (a fleet started or reconnected together) drift apart instead of echoing
the herd every interval.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confpy import __version__
from confpy.config.resource import TemplateResource
from confpy.fleet.register import Registration
from confpy.store.snapshot import Store
from confpy.watch.health import Status

REPORT_TTL = 30
"""Seconds a killed daemon's record outlives it (the lease TTL, refreshed every ttl/2 or less:
one keep-alive and one one-key read per 11-15 s, see `KEEPALIVE_JITTER`)."""
REVISION_ONLY_EVERY = 30.0
MIN_INTERVAL = 1.0
STATE_SPREAD = 3.0
"""Seconds (at most) a change of state alone waits before it is put; a state that changes
back meanwhile (etcd away for a moment) is never put at all."""
KEEPALIVE_JITTER = 0.25
"""Each refresh interval is ttl/2 shortened by a random 0..25 % (11.25-15 s for 30 s)."""
RETRY_SPREAD = 5.0
"""Seconds over which reporters that lost etcd together spread their retries, instead of
retrying in step for as long as etcd is away."""


class FileChecksums:
    """sha256 of installed files, recomputed only when a file's stat changes."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int, int], str]] = {}

    def of_file(self, path: Path, read: Callable[[Path], str] | None = None) -> str | None:
        """`read(path)` (default: the sha256 of its bytes), again only once it changed."""
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            digest = (read or _sha256)(path)
        except OSError:
            self._cache.pop(path, None)
            return None
        self._cache[path] = (stamp, digest)
        return digest

    def of_resource(self, r: TemplateResource) -> str | None:
        """The installed file's checksum; for an `each` resource, one over its files
        (name and checksum of each file its manifest lists)."""
        if r.each is None:
            digest = self.of_file(r.dest)
            return None if digest is None else "sha256:" + digest
        from confpy.apply.manifest import manifest_path, read_manifest

        def listed(manifest: Path) -> str:  # read (and warned about) once per change
            return "\0".join(sorted(read_manifest(r)[0]))  # no file name holds a NUL

        names = self.of_file(manifest_path(r), listed) or ""
        lines = [f"{n} {self.of_file(r.dest.parent / n)}\n" for n in names.split("\0") if n]
        return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_record(
    report_id: str,
    health: dict[str, Any],
    resources: Sequence[TemplateResource],
    checksums: FileChecksums,
    revision: int,
    started: str,
) -> dict[str, Any]:
    """The record: names, states, checksums and revisions only."""
    failing = health.get("failing") or {}
    return {
        "id": report_id,
        "revision": revision,
        "healthy": bool(health.get("healthy")),
        "in_sync": bool(health.get("in_sync")),
        "waiting_for": health.get("waiting_for"),
        "resources": {
            r.name: {"checksum": checksums.of_resource(r), "failing": failing.get(r.name)}
            for r in resources
        },
        "version": __version__,
        "started": started,
    }


class Reporter:
    """Publishes the daemon's record at `PREFIX/ID` from `start()` until `close()`."""

    def __init__(
        self,
        store: Store,
        status: Status,
        resources: Callable[[], Sequence[TemplateResource]],
        *,
        prefix: str,
        report_id: str,
        ttl: int = REPORT_TTL,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = random.random,
    ) -> None:
        self.status, self.resources, self.report_id = status, resources, report_id
        self.clock, self.spread = clock, spread
        self.due: float | None = None  # when a change of state alone may go
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.checksums = FileChecksums()
        self.synced_revision = 0
        self.stop = threading.Event()
        self.published = self._record()
        self.published_at = clock()
        self._own = _OwnPuts(store, clock)
        self.registration = Registration(
            self._own,
            f"{prefix.rstrip('/')}/{report_id}",
            _encode(self.published),
            ttl,
            stop=self.stop,
            sleep=self._nap,
            retry_jitter=RETRY_SPREAD,
        )
        self.ttl = ttl
        self.registration.interval = self._next_interval()
        self._thread = threading.Thread(
            target=self.registration.run, name="confpy-report", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop and revoke the lease (the record goes at once), waiting at most `timeout`."""
        self.stop.set()
        self._thread.join(timeout)

    def _record(self) -> dict[str, Any]:
        health = self.status.health()
        if health["in_sync"]:
            self.synced_revision = int(health["revision"])
        return build_record(
            self.report_id,
            health,
            self.resources(),
            self.checksums,
            self.synced_revision,
            self.started,
        )

    def refresh(self) -> bool:
        """Rebuild the record; hand it to the registration if it changed and may go now."""
        record, now = self._record(), self.clock()
        if record == self.published:
            self.due = None  # changed back before it went: nobody needs to hear of it
            return False
        moved_only = {**record, "revision": 0} == {**self.published, "revision": 0}
        if moved_only and record["revision"] <= self._own.revision:
            return False  # only our own last put moved it
        if now - self.published_at < (REVISION_ONLY_EVERY if moved_only else MIN_INTERVAL):
            return False
        if not moved_only and not _files_changed(record, self.published):
            if self.due is None:
                self.due = now + self.spread() * STATE_SPREAD
            if now < self.due:
                return False
        self.due = None
        self.registration.replace_value(_encode(record))
        self.published, self.published_at = record, now
        return True

    def _next_interval(self) -> float:
        return self.ttl / 2 * (1 - KEEPALIVE_JITTER * self.spread())

    def _nap(self, seconds: float) -> None:
        """The registration's wait between steps: returns early when a new record is due
        (its next step puts it) or when stopping."""
        if seconds == self.registration.interval:  # a refresh interval, not a retry's wait
            self.registration.interval = self._next_interval()
        deadline = self.clock() + seconds
        while not self.stop.is_set():
            if self.refresh():
                self._own.skip_keep_alive = True  # the step that puts it needs none
                return
            now = self.clock()
            left = deadline - now
            if left <= 0:
                return
            if self.due is not None:  # wake when it is due, not at the next whole second
                left = min(left, max(self.due - now, 0.01))
            self.stop.wait(min(left, MIN_INTERVAL))


def _files_changed(record: dict[str, Any], published: dict[str, Any]) -> bool:
    """Whether an installed file (a checksum) differs, or the set of resources does."""

    def checksums(r: dict[str, Any]) -> dict[str, Any]:
        return {name: res["checksum"] for name, res in r["resources"].items()}

    return checksums(record) != checksums(published)


class _OwnPuts:
    """The store, remembering the revision of the record's last put; and skipping the
    keep-alive that the registration sends before putting a new record when the lease was
    refreshed lately (`skip_keep_alive`): a fleet publishing one change would otherwise
    send etcd two requests per daemon in the same second, the second one for nothing.
    A lease that expired anyway fails the put, and the retry's keep-alive finds it out."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store, self._clock = store, clock
        self.revision = 0
        self.skip_keep_alive = False
        self._kept: tuple[int, float, int] | None = None  # lease, when, TTL left then

    def keep_alive(self, lease: int) -> int:
        skip, self.skip_keep_alive = self.skip_keep_alive, False
        now = self._clock()
        if skip and self._kept is not None and self._kept[0] == lease:
            left = self._kept[2] - (now - self._kept[1])
            if left > self._kept[2] / 2:
                return int(left)
        remaining = int(self._store.keep_alive(lease))
        self._kept = (lease, now, remaining)
        return remaining

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        self.revision = self._store.put(key, value, lease=lease)
        return self.revision


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
