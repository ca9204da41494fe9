"""The etcd store: the only package that talks to etcd, through its v3 JSON gateway.

`EtcdStore` implements `confpy.snapshot.Store` over `/v3/kv`, `/v3/lease` and `/v3/watch`
with the standard library alone: consistent multi-key snapshots at one revision, one watch
stream, compare-and-swap transactions and leases. `_wire` speaks HTTP/1.1 on a socket;
`_http` owns failover, tokens and `translate()`, the one function that maps failures to
confpy's errors; `_watch` the stream.

Why not gRPC: `import etcd3` (grpcio + protobuf) cost ~150 ms and ~15 MB per process and
started threads of its own; the JSON gateway is served by etcd 3.4 and 3.5 on the same port.
"""

from __future__ import annotations

import base64
import threading
from binascii import a2b_base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from confpy.errors import ConflictError, StoreError
from confpy.keys import key_matches
from confpy.log import get_logger
from confpy.settings import Settings
from confpy.snapshot import Origin, Snapshot, WatchBatch
from confpy.store._http import Transport, translate

log = get_logger("confpy.store")

# etcd refuses transactions of more than 128 operations by default (--max-txn-ops).
_TXN_OPS = 100

__all__ = ["EtcdStore", "prefix_end"]


def prefix_end(prefix: bytes) -> bytes:
    """The range end that makes a range read or watch cover every key starting with `prefix`."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str | None) -> bytes:
    # binascii directly: base64.b64decode's argument checks cost more than the decoding
    # on a snapshot of thousands of keys.
    return a2b_base64(text) if text else b""


class EtcdStore:
    """A `Store` on an etcd v3 cluster, connecting lazily and failing over between endpoints."""

    def __init__(self, settings: Settings, *, timeout: float = 5.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._transport = Transport(settings, timeout)
        # Set once etcd refuses to watch the whole span for lack of permission.
        self.split_watch = False
        # A healthy watch yields at least this often (seconds); see `watch`.
        self.progress_interval = 10.0
        self._cancellers: dict[threading.Event, list[Any]] = {}
        self._cancel_lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The endpoint in use, for logs."""
        return str(self._transport.current)

    def close(self) -> None:
        self._transport.close()

    def _rpc(
        self,
        what: str,
        path: str,
        body: dict[str, Any],
        *,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One gateway call with confpy's errors (tests use it to reach etcd directly)."""
        with translate(what):
            return self._transport.call(path, body, idempotent=idempotent, timeout=timeout)

    # -- reads ------------------------------------------------------------------------------

    def current_revision(self) -> int:
        """etcd's revision now (the member's status: any authenticated user may ask)."""
        reply = self._rpc("status", "/maintenance/status", {})
        return int(reply["header"]["revision"])

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        """Every key matching `patterns`, read in transactions pinned to one revision."""
        ranges: list[tuple[bytes, bytes | None]] = []
        for p in _dedupe(patterns):
            if p == "/":
                ranges.append((b"/", prefix_end(b"/")))
                continue
            raw = p.encode()
            ranges.append((raw, None))
            ranges.append((raw + b"/", prefix_end(raw + b"/")))
        requests = [_range(key, end) for key, end in ranges]
        header: dict[str, Any] = {}
        revision, replies = self._read_txn("snapshot read", requests, header=header)
        values: dict[str, bytes] = {}
        for reply in replies:
            for kv in reply.get("kvs", ()):
                value = kv.get("value")
                values[a2b_base64(kv["key"]).decode("utf-8", "replace")] = (
                    a2b_base64(value) if value else b""
                )
        return Snapshot(revision, values, origin=origin(header))

    def _read_txn(
        self,
        what: str,
        requests: list[dict[str, Any]],
        revision: int = 0,
        *,
        header: dict[str, Any] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Range requests in transactions of at most `_TXN_OPS`, all at one revision.

        A request with its own "revision" keeps it; the others are pinned to the revision
        the first transaction read at. `header` receives the first reply's header.
        """
        replies: list[dict[str, Any]] = []
        for start in range(0, max(len(requests), 1), _TXN_OPS):
            chunk = requests[start : start + _TXN_OPS]
            ops = [{"request_range": {"revision": revision, **r} if revision else r} for r in chunk]
            reply = self._rpc(what, "/kv/txn", {"success": ops})
            if not revision:
                revision = int(reply["header"]["revision"])
                if header is not None:
                    header.update(reply["header"])
            replies += [op.get("response_range", {}) for op in reply.get("responses", ())]
        return revision, replies

    def get(self, key: str) -> tuple[bytes | None, int]:
        reply = self._rpc("get", "/kv/range", {"key": b64(key.encode())})
        kvs = reply.get("kvs")
        if not kvs:
            return None, 0
        return unb64(kvs[0].get("value")), int(kvs[0]["mod_revision"])

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        body: dict[str, Any] = {"key": b64(key.encode()), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        reply = self._rpc("put", "/kv/put", body, idempotent=False)
        return int(reply["header"]["revision"])

    def delete(self, key: str) -> int:
        reply = self._rpc("delete", "/kv/deleterange", {"key": b64(key.encode())}, idempotent=False)
        return int(reply["header"]["revision"])

    def put_atomic(
        self,
        values: Mapping[str, bytes],
        expect: Mapping[str, int],
        delete: Sequence[str] = (),
    ) -> int:
        """Write `values` and delete `delete` in one revision, if each `expect` key is still
        at that mod revision (0: absent)."""
        compare = [
            {"key": b64(k.encode()), "result": "EQUAL", "target": "MOD", "mod_revision": str(rev)}
            for k, rev in expect.items()
        ]
        success = [
            {"request_put": {"key": b64(k.encode()), "value": b64(v)}} for k, v in values.items()
        ] + [{"request_delete_range": {"key": b64(k.encode())}} for k in delete]
        reply = self._rpc(
            "transaction", "/kv/txn", {"compare": compare, "success": success}, idempotent=False
        )
        if not reply.get("succeeded"):
            raise ConflictError(
                "another writer changed " + ", ".join(expect) + " first; nothing was written"
            )
        return int(reply["header"]["revision"])

    # -- leases -----------------------------------------------------------------------------

    def grant_lease(self, ttl: int) -> int:
        reply = self._rpc("lease grant", "/lease/grant", {"TTL": str(ttl)}, idempotent=False)
        return int(reply["ID"])

    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease once; return its remaining TTL in seconds (0: it has expired)."""
        reply = self._rpc("lease keep-alive", "/lease/keepalive", {"ID": str(lease_id)})
        return int(reply.get("TTL", 0))

    def revoke_lease(self, lease_id: int) -> None:
        try:
            self._rpc("lease revoke", "/lease/revoke", {"ID": str(lease_id)})
        except StoreError as e:
            # An expired lease is already gone: that is what revoking wanted.
            if "not found" not in str(e):
                raise

    def compact(self, revision: int) -> None:
        self._rpc(
            "compaction",
            "/kv/compaction",
            {"revision": str(revision), "physical": True},
            timeout=30,
        )

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        """Watch every pattern on one stream, yielding batches by revision.

        See `confpy.store._watch` for the stream, its liveness and the per-range fallback.
        """
        from confpy.store._watch import watch

        return watch(self, patterns, start_revision, stop)

    def _unchanged_since(self, spans: Sequence[tuple[bytes, bytes]], since: int) -> int | None:
        """etcd's revision now if no key in `spans` changed after `since`, else None.

        Nothing changed iff no live key was modified after `since` and as many keys live
        now as lived then: a live key last modified at or before `since` lived then with the
        same value, so equal counts leave no room for a deletion.
        """
        requests: list[dict[str, Any]] = []
        for low, high in spans:
            span = {"key": b64(low), "range_end": b64(high)}
            requests += [
                {**span, "keys_only": True, "min_mod_revision": str(since + 1)},
                {**span, "count_only": True},
                {**span, "count_only": True, "revision": str(since)},
            ]
        try:
            revision, replies = self._read_txn("watch liveness check", requests)
        except StoreError as e:
            if "compacted" in str(e):
                return None
            raise
        for modified, now, then in zip(replies[0::3], replies[1::3], replies[2::3], strict=True):
            if modified.get("kvs") or int(now.get("count", 0)) != int(then.get("count", 0)):
                return None
        return revision


def origin(header: Any) -> Origin:
    """Which etcd answered, from a reply header."""
    return Origin(header_int(header, "cluster_id"), header_int(header, "raft_term"))


def header_int(header: Any, name: str) -> int:
    """A number from a reply header; 0 when absent or not a number (a reply that lies
    about who sent it must not end a watch or a read)."""
    try:
        return int(header.get(name) or 0) if isinstance(header, dict) else 0
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return 0


def _range(key: bytes, end: bytes | None) -> dict[str, Any]:
    request = {"key": b64(key)}
    if end:
        request["range_end"] = b64(end)
    return request


def _dedupe(patterns: Sequence[str]) -> list[str]:
    """Drop patterns that lie below another pattern: their keys are read already."""
    out: list[str] = []
    for p in sorted(set(patterns)):
        if not any(key_matches(q, p) for q in out):
            out.append(p)
    return out
