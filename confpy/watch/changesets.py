"""Change sets: which resources must be installed together, all or nothing.

Two resources belong to one change set when they share a tie: a reload action (a
certificate and its key both reloading nginx), the etcd revision of a transaction that
touched both, or whatever else the caller ties them by. Pure: no etcd, no files.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def change_sets(items: Sequence[T], ties: Callable[[T], Iterable[Hashable]]) -> list[list[T]]:
    """Group `items` that share a tie, transitively; groups and members keep input order."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Hashable, int] = {}
    for i, item in enumerate(items):
        for tie in ties(item):
            if tie in owner:
                parent[find(i)] = find(owner[tie])
            else:
                owner[tie] = i
    groups: dict[int, list[T]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return list(groups.values())


def transaction_ties(revisions: Iterable[int]) -> set[Hashable]:
    """Ties for the etcd revisions that touched a resource: one transaction, one change set."""
    return {("revision", rev) for rev in revisions}
