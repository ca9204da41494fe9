"""confd's file backend: keys from YAML files and directories of them, watched for changes.

`-file` names files or directories (searched recursively for names matching `-filter`,
a Go `filepath.Match` glob, in lexical order, as confd's `RecursiveFilesLookup`); every
file is read on every snapshot, later files overriding earlier keys, and read as confd
reads YAML (`confpy.golib.yaml`). Each read whose keys differ from the last one is a new
revision, so the daemon sees file edits as it sees etcd changes; `watch` polls the files'
and directories' status (confd uses inotify) and reports what changed as events.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from confpy.config.keys import matches_any
from confpy.errors import ConfigError, RevisionCompactedError, StoreUnavailableError
from confpy.store.datafile import DataStore
from confpy.store.snapshot import Event, Snapshot, WatchBatch

POLL_INTERVAL = 0.25
"""Seconds between two looks at the files' status while watching."""
_HISTORY = 32
"""Revisions kept, so a watch may start a little behind the newest."""


class FileStore(DataStore):
    """A read-only Store over YAML files; a new revision each time their keys change."""

    source = "the file backend"

    def __init__(
        self, paths: Sequence[Path], filter: str = "*", poll_interval: float = POLL_INTERVAL
    ) -> None:
        super().__init__({})
        self.paths = list(paths)
        self.filter = filter
        self.poll_interval = poll_interval
        self.revision = 0
        self._history: dict[int, dict[str, bytes]] = {}
        self._lock = threading.Lock()
        self.refresh()

    def files(self) -> list[Path]:
        """The files to read, in confd's order."""
        found: list[Path] = []
        for path in self.paths:
            if not path.exists():
                raise ConfigError("no such file or directory", file=str(path))
            if path.is_dir():
                found += _walk(path, self.filter)
            else:
                found.append(path)
        return found

    def refresh(self) -> int:
        """Read every file; a new revision when the keys changed. The current revision."""
        from confpy.golib.yaml import read_yaml

        values: dict[str, bytes] = {}
        for file in self.files():
            text = _read_bounded(file)
            for key, value in read_yaml(text, str(file)).items():
                values[key] = value.encode("utf-8", "surrogateescape")
        with self._lock:
            if values != self.values or not self._history:
                self.revision += 1
                self.values = values
                self._history[self.revision] = values
                self._history.pop(self.revision - _HISTORY, None)
            return self.revision

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        revision = self._read()
        values = self._history[revision]
        return Snapshot(revision, {k: v for k, v in values.items() if matches_any(patterns, k)})

    def get(self, key: str) -> tuple[bytes | None, int]:
        revision = self._read()
        value = self._history[revision].get(key)
        return value, (revision if value is not None else 0)

    def _read(self) -> int:
        """`refresh()`, where a file that cannot be read now is the store not answering:
        the daemon retries it (an editor's half-written save), as it retries etcd."""
        try:
            return self.refresh()
        except ConfigError as e:
            raise StoreUnavailableError(f"{self.source}: {e}") from None

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        """Changes from `start_revision` on, found by polling the files' status."""
        with self._lock:
            base = self._history.get(start_revision - 1)
        if base is None:
            raise RevisionCompactedError(start_revision, self.revision)
        seen = start_revision - 1
        status = None
        while not stop.is_set():
            now = self._status()
            if now != status:
                status = now
                try:
                    revision = self.refresh()
                except ConfigError as e:
                    # A file caught half written, or broken: keep the last good keys.
                    from confpy.log import get_logger

                    get_logger(__name__).warning("file backend: not read", error=str(e))
                    status = None
                    stop.wait(self.poll_interval)
                    continue
                if revision > seen:
                    new = self._history[revision]
                    events = _diff(base, new, patterns, revision)
                    base, seen = new, revision
                    yield WatchBatch(revision, events)
            stop.wait(self.poll_interval)

    def _status(self) -> tuple[tuple[str, int, int, int], ...]:
        """What changes when a file is written, replaced, added or removed."""
        out = []
        for path in self.paths:
            for root in [path, *(_dirs(path) if path.is_dir() else [])]:
                out.append(_stat(root))
            if path.is_dir():
                out += [_stat(f) for f in _walk(path, self.filter)]
        return tuple(out)


def _read_bounded(file: Path) -> str:
    """The file's text, refused past MAX_DATA_BYTES (as `--data`): only that much is read."""
    from confpy.limits import MAX_DATA_BYTES, read_file_bounded

    try:
        raw = read_file_bounded(file, MAX_DATA_BYTES)
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(file)) from None
    if len(raw) > MAX_DATA_BYTES:
        raise ConfigError(f"larger than the limit of {MAX_DATA_BYTES} bytes", file=str(file))
    return raw.decode("utf-8", "surrogateescape")


def _stat(path: Path) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def _diff(
    old: dict[str, bytes], new: dict[str, bytes], patterns: Sequence[str], revision: int
) -> tuple[Event, ...]:
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    return tuple(Event(k, new.get(k), revision) for k in keys if matches_any(patterns, k))


def _walk(root: Path, pattern: str) -> list[Path]:
    """Go's `filepath.Walk` in lexical order, keeping files whose name matches `pattern`."""
    from confpy.golib.path import BadPattern, path_match

    found: list[Path] = []
    try:
        for dirpath, _dirnames, filenames in os.walk(root):
            found += [Path(dirpath) / name for name in filenames if path_match(pattern, name)]
    except BadPattern:
        raise ConfigError(f"-filter {pattern!r}: syntax error in pattern") from None
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _dirs(root: Path) -> list[Path]:
    return [Path(d) for d, _, _ in os.walk(root)]
