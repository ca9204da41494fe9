"""Read every key under a prefix, oldest first: what fleet status and slots list.

A mixin of `EtcdStore`, kept apart from the store's core (snapshots, watch, leases) so
the two can change independently: one range read, sorted by each key's create revision
(etcd's semaphore order), with the revision it was read at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confpy.store._codec import b64, prefix_end, unb64

if TYPE_CHECKING:
    from collections.abc import Callable

# A prefix read is bounded: a hostile or runaway writer must not make a reader hold
# gigabytes. etcd caps each value (--max-request-bytes, 1.5 MiB by default) itself.
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Entry:
    """One key under a prefix: its value and when it was created (a revision)."""

    key: str
    value: bytes
    create_revision: int


class PrefixReads:
    """`read_prefix()` for `EtcdStore` (which provides `_rpc`)."""

    _rpc: Callable[..., dict[str, Any]]

    def read_prefix(self, prefix: str, *, limit: int = MAX_ENTRIES) -> tuple[int, list[Entry]]:
        """(revision, every key under `prefix` + "/" ordered by create revision, at most
        `limit` of them: the oldest)."""
        low = prefix.rstrip("/").encode() + b"/"
        reply = self._rpc(
            "prefix read",
            "/kv/range",
            {
                "key": b64(low),
                "range_end": b64(prefix_end(low)),
                "sort_order": "ASCEND",
                "sort_target": "CREATE",
                "limit": str(limit),
            },
        )
        entries = [
            Entry(
                unb64(kv["key"]).decode("utf-8", "replace"),
                unb64(kv.get("value")),
                int(kv.get("create_revision", 0)),
            )
            for kv in reply.get("kvs", ())
        ]
        return int(reply["header"]["revision"]), entries
