"""Pure key logic: which keys a resource reads, which resources a change touches, what to watch.

A key in a resource's `keys` matches itself and everything below it, as in confd:
`/app` matches `/app` and `/app/db/host`, not `/apple`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def relative_view(values: Mapping[str, V], prefix: str, patterns: Sequence[str]) -> dict[str, V]:
    """What a template sees: matching keys with the resource prefix stripped, rooted at `/`."""
    out: dict[str, V] = {}
    for k, v in values.items():
        if not matches_any(patterns, k):
            continue
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


def touched(changed: Iterable[str], resources: Mapping[str, Sequence[str]]) -> set[str]:
    """Names of the resources whose patterns match any changed key."""
    keys = list(changed)
    return {
        name for name, patterns in resources.items() if any(matches_any(patterns, k) for k in keys)
    }
