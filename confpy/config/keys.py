"""Pure key logic: which keys a resource reads, which resources a change touches, what to watch.

A key in a resource's `keys` matches itself and everything below it, as in confd:
`/app` matches `/app` and `/app/db/host`, not `/apple`.

Two indexes keep the cost linear in what is read rather than in keys x resources:
`SortedKeys` finds the keys under a pattern by bisecting a sorted key list (a pattern's
subtree is one contiguous range), and `PatternIndex` finds the resources a changed key
touches by looking up the key's ancestors, never scanning every resource.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

V = TypeVar("V")


def key_matches(pattern: str, key: str) -> bool:
    """True when `key` is `pattern` itself or lies below it."""
    if pattern == "/":
        return key.startswith("/")
    return key == pattern or key.startswith(pattern + "/")


def matches_any(patterns: Iterable[str], key: str) -> bool:
    return any(key_matches(p, key) for p in patterns)


def select(values: Mapping[str, V], patterns: Sequence[str]) -> dict[str, V]:
    """The entries of `values` whose keys match any of `patterns`."""
    return {k: v for k, v in values.items() if matches_any(patterns, k)}


def relative_view(
    values: Mapping[str, V],
    prefix: str,
    patterns: Sequence[str],
    *,
    index: SortedKeys | None = None,
) -> dict[str, V]:
    """What a template sees: matching keys with the resource prefix stripped, rooted at `/`.

    With `index` (the sorted keys of `values`) only the matching ranges are visited, in
    key order; without it every key of `values` is tested.
    """
    if index is not None:
        matching: Iterable[str] = index.matching(patterns)
    else:
        matching = [k for k in values if matches_any(patterns, k)]
    out: dict[str, V] = {}
    for k in matching:
        v = values[k]
        if prefix and (k == prefix or k.startswith(prefix + "/")):
            rel = k[len(prefix) :] or "/"
        else:
            rel = k
        out[rel] = v
    return out


def watch_ranges(patterns: Iterable[str]) -> list[str]:
    """The fewest string prefixes that cover every pattern's key and subtree.

    etcd watches by byte range, so `/app` as a prefix also covers `/apple`; events are
    filtered with `key_matches` afterwards. A pattern already covered by a shorter one
    is dropped, so `/app` and `/app/db` need one watch.
    """
    ordered = sorted(set(patterns))
    out: list[str] = []
    for p in ordered:
        if out and p.startswith(out[-1]):
            continue
        out.append(p)
    return out


def _subtree_bounds(pattern: str) -> tuple[str, str]:
    """The half-open string range holding every key strictly below `pattern`.

    Keys below `/app` all start with `/app/`, and sort between `/app/` and `/app0`
    (`0` follows `/` in code-point order). `/` is special: it covers every key that
    starts with `/`.
    """
    if pattern == "/":
        return "/", "0"
    return pattern + "/", pattern + "0"


class SortedKeys:
    """The keys of a snapshot in sorted order, to find a pattern's subtree by bisection.

    Built once per snapshot in O(n log n); each lookup then costs O(log n + matches).
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = sorted(set(keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        i = bisect.bisect_left(self._keys, key)
        return i < len(self._keys) and self._keys[i] == key

    def add(self, key: str) -> None:
        """Insert a new key (a no-op for a known one): O(n) memory move, no re-sort."""
        i = bisect.bisect_left(self._keys, key)
        if i == len(self._keys) or self._keys[i] != key:
            self._keys.insert(i, key)

    def discard(self, key: str) -> None:
        i = bisect.bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]

    def under(self, pattern: str) -> Iterator[str]:
        """Every key that `key_matches(pattern, key)`, in sorted order."""
        if pattern != "/" and pattern in self:
            yield pattern
        lo, hi = _subtree_bounds(pattern)
        keys = self._keys
        start = bisect.bisect_left(keys, lo)
        end = bisect.bisect_left(keys, hi, start)
        yield from keys[start:end]

    def matching(self, patterns: Iterable[str]) -> list[str]:
        """Every key matching any of `patterns`, once each, in sorted order."""
        found: set[str] = set()
        for p in set(patterns):
            found.update(self.under(p))
        return sorted(found)


class PatternIndex:
    """Which resources a key belongs to, by looking up the key's ancestors.

    A key matches a pattern when the pattern is the key itself, or the key's text up to
    one of its `/` separators (or `/` for any key starting with `/`). So a changed key
    is resolved with one dictionary lookup per path segment, whatever the number of
    resources.
    """

    __slots__ = ("_by_pattern",)

    def __init__(self, resources: Mapping[str, Iterable[str]]) -> None:
        self._by_pattern: dict[str, set[str]] = {}
        for name, patterns in resources.items():
            for p in patterns:
                self._by_pattern.setdefault(p, set()).add(name)

    def names(self, key: str) -> set[str]:
        """The names of the resources with a pattern matching `key`."""
        by_pattern = self._by_pattern
        out: set[str] = set()
        for candidate in _ancestors(key):
            hit = by_pattern.get(candidate)
            if hit:
                out |= hit
        return out

    def touched(self, changed: Iterable[str]) -> set[str]:
        """The names of the resources matching any of `changed`."""
        out: set[str] = set()
        for key in changed:
            out |= self.names(key)
        return out


def _ancestors(key: str) -> Iterator[str]:
    """Every pattern string that matches `key`: itself and its text before each `/`."""
    yield key
    if key.startswith("/") and key != "/":
        yield "/"
    i = key.find("/")
    while i != -1:
        ancestor = key[:i]
        if ancestor != "/":  # "/" was yielded above, with its own meaning
            yield ancestor
        i = key.find("/", i + 1)


# -- Key paths: the one place that spells a key or prefix the way confpy reads it ---------------
# (The Go engine's confd functions deliberately look keys up exactly as written, as confd
# does: confpy/confdpath.py keeps Go's own, non-normalising, path logic.)


def clean_key(key: str) -> str:
    """A key rooted at `/` with empty segments dropped: `a//b/` -> `/a/b`, `` -> `/`."""
    return "/" + "/".join(p for p in key.split("/") if p)


def join_key(prefix: str, key: str) -> str:
    """Join like confd's `path.Join`: `/app` + `host` -> `/app/host`, rooted, no trailing slash."""
    return clean_key(f"{prefix}/{key}")


def normalize_prefix(prefix: str) -> str:
    """`/app/`, `app` and `/app` all mean the prefix `/app`; `` and `/` mean none (``)."""
    stripped = prefix.strip().strip("/")
    return "/" + stripped if stripped else ""


def resolve_key(prefix: str, name: str) -> str:
    """`name` below `prefix`, unless `name` is absolute (starts with `/`): a relative path."""
    if name.startswith("/"):
        return name
    return prefix.rstrip("/") + "/" + name
