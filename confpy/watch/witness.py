"""Tell an etcd whose history was rewritten under the same cluster ID and raft term.

A wiped etcd refilled past the old revision, with no new cluster ID and no older term,
looks like the one the daemon left. `Witnesses` keeps a few keys the daemon knows (the last
ones a watch changed, else some of its snapshot) with their values at the last revision it
received, K; each time the watch opens a stream, one linearizable read per key compares
them with etcd now.

The rule, per key: if etcd now says the key last changed at a revision at or below K, its
value now is its value at K, so it must be what the daemon saw (and at the same mod
revision, when known). A key changed after K, or gone, proves nothing: a legitimate
change while away looks the same, and the resumed watch delivers it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice

from confpy.store.snapshot import Event

SIZE = 3
"""Keys kept, so reads per reconnect: a refill that changed one of them after K still
leaves the others to compare."""


class Witnesses:
    """Up to `SIZE` keys, each with the value (None: absent) and mod revision (0: unknown)
    the daemon saw at the last revision it received."""

    def __init__(self, seen: Mapping[str, bytes] | None = None) -> None:
        # Insertion order is age: the oldest key goes first when a new one comes.
        self._known: dict[str, tuple[bytes | None, int]] = {
            key: (value, 0) for key, value in islice((seen or {}).items(), SIZE)
        }

    def __bool__(self) -> bool:
        return bool(self._known)

    def saw(self, event: Event) -> None:
        """Record a change the watch delivered (the latest for its key so far)."""
        self._known.pop(event.key, None)
        self._known[event.key] = (event.value, event.mod_revision)
        if len(self._known) > SIZE:
            del self._known[next(iter(self._known))]

    def rewritten(self, get: Callable[[str], tuple[bytes | None, int]], known: int) -> str | None:
        """How etcd shows its history up to revision `known` is not the one the daemon saw,
        or None. `get(key)` reads one key now: (value or None, mod revision or 0)."""
        for key, (value, mod_revision) in list(self._known.items()):
            now, changed = get(key)
            if not 0 < changed <= known:
                continue  # changed after `known` or gone: the watch delivers it
            if value is None:
                return f"key {key!r} changed at revision {changed}, where it was absent"
            if mod_revision and changed != mod_revision:
                return f"key {key!r} changed at revision {changed}, not {mod_revision}"
            if now != value:
                return f"key {key!r} holds another value at revision {changed}"
        return None
