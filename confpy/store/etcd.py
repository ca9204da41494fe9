"""The etcd client: the only module that talks to etcd, through its v3 JSON gateway.

`EtcdStore` implements `confpy.store.snapshot.Store` over `/v3/kv`, `/v3/lease` and `/v3/watch`
with the standard library alone: consistent multi-key snapshots at one revision, one watch
stream, compare-and-swap transactions and leases. `_wire` speaks HTTP/1.1 on a socket;
`_http` owns failover, tokens and `translate()`, the one function that maps failures to
confpy's errors; `_watch` the stream.

Why not gRPC: `import etcd3` (grpcio + protobuf) cost ~150 ms and ~15 MB per process and
started threads of its own; the JSON gateway is served by etcd 3.4 and 3.5 on the same port.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from confpy.config.keys import key_matches
from confpy.config.settings import Settings
from confpy.errors import ConflictError
from confpy.log import get_logger
from confpy.store._cancel import Scope, cancel_on
from confpy.store._codec import b64, origin, prefix_end, read_revision, unb64
from confpy.store._errors import EtcdReply, Kind, translate
from confpy.store._http import Transport
from confpy.store._prefix import Entry, PrefixReads
from confpy.store._watch import CHECK_JITTER, Timing, Watch
from confpy.store._wire import Limits
from confpy.store.snapshot import Snapshot, WatchBatch

log = get_logger(__name__)

# etcd refuses transactions of more than 128 operations by default (--max-txn-ops).
_TXN_OPS = 100

__all__ = ["Entry", "EtcdStore", "Limits", "prefix_end"]


_F = TypeVar("_F", bound=Callable[..., Any])


def _answers(what: str) -> Callable[[_F], _F]:
    """Read etcd's reply inside `translate`: a reply whose content lies is a confpy error."""

    def wrap(method: _F) -> _F:
        @functools.wraps(method)
        def translated(*args: Any, **kwargs: Any) -> Any:
            with translate(what):
                return method(*args, **kwargs)

        return cast(_F, translated)

    return wrap


class EtcdStore(PrefixReads):
    """A `Store` on an etcd v3 cluster, connecting lazily and failing over between endpoints."""

    def __init__(
        self, settings: Settings, *, timeout: float = 5.0, limits: Limits | None = None
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self._transport = Transport(settings, timeout, limits)
        # Set once etcd refuses to watch the whole span for lack of permission.
        self.split_watch = False
        self.timing = Timing()

    @property
    def progress_interval(self) -> float:
        """A quiet, healthy watch yields at least every this many seconds (jitter included)
        plus one request timeout; a dead member is noticed within the same bound."""
        return self.timing.check_interval * (1 + CHECK_JITTER) + self.timeout

    @progress_interval.setter
    def progress_interval(self, seconds: float) -> None:
        self.timing.check_interval = seconds

    @contextlib.contextmanager
    def cancelled_by(self, stop: threading.Event) -> Iterator[None]:
        """Exchanges this thread starts inside end at once when `stop` is set (as a
        `StoreUnavailableError`), so that a worker stops without waiting for a timeout."""
        scope = Scope()
        cancel_on(stop, scope)
        with self._transport.scope(scope):
            yield

    @property
    def last_confirmed(self) -> float | None:
        """When etcd last answered this store (`time.monotonic()`), or None: never."""
        return self._transport.confirmed_at

    @property
    def cluster_id(self) -> str | None:
        """The cluster ID in etcd's latest reply header (it changes when etcd is replaced)."""
        return self._transport.cluster_id

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
        """One gateway call with confpy's errors (tests use it to reach etcd directly:
        tests/etcd_admin.py)."""
        with translate(what):
            return self._transport.call(path, body, idempotent=idempotent, timeout=timeout)

    # -- reads ------------------------------------------------------------------------------

    @_answers("snapshot read")
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
                values[unb64(kv["key"]).decode("utf-8", "replace")] = unb64(value)
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
                revision = read_revision(reply["header"]["revision"])
                if header is not None:
                    header.update(reply["header"])
            replies += [op.get("response_range", {}) for op in reply.get("responses", ())]
        return revision, replies

    @_answers("get")
    def get(self, key: str) -> tuple[bytes | None, int]:
        reply = self._rpc("get", "/kv/range", {"key": b64(key.encode())})
        kvs = reply.get("kvs")
        if not kvs:
            return None, 0
        return unb64(kvs[0].get("value")), read_revision(kvs[0]["mod_revision"])

    # -- writes -----------------------------------------------------------------------------

    @_answers("put")
    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        body: dict[str, Any] = {"key": b64(key.encode()), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        reply = self._rpc("put", "/kv/put", body, idempotent=False)
        return read_revision(reply["header"]["revision"])

    @_answers("delete")
    def delete(self, key: str) -> int:
        reply = self._rpc("delete", "/kv/deleterange", {"key": b64(key.encode())}, idempotent=False)
        return read_revision(reply["header"]["revision"])

    @_answers("transaction")
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
        return read_revision(reply["header"]["revision"])

    # -- leases -----------------------------------------------------------------------------

    @_answers("lease grant")
    def grant_lease(self, ttl: int) -> int:
        reply = self._rpc("lease grant", "/lease/grant", {"TTL": str(ttl)}, idempotent=False)
        return int(reply["ID"])

    @_answers("lease keep-alive")
    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease once; return its remaining TTL in seconds (0: it has expired)."""
        reply = self._rpc("lease keep-alive", "/lease/keepalive", {"ID": str(lease_id)})
        return int(reply.get("TTL", 0))

    def revoke_lease(self, lease_id: int, *, timeout: float | None = None) -> None:
        """Revoke a lease (its keys go at once); `timeout` bounds it below the store's own
        (a revoke on the way out must not hold up a stop)."""
        with translate("lease revoke"):
            try:
                self._transport.call("/lease/revoke", {"ID": str(lease_id)}, timeout=timeout)
            except EtcdReply as e:
                # An expired lease is already gone: that is what revoking wanted.
                if e.kind is not Kind.NOT_FOUND:
                    raise

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        """Watch every pattern on one stream, yielding batches by revision.

        See `confpy.store._watch` for the stream, its liveness and the per-range fallback.
        """
        watch = Watch(
            self._transport,
            self.timing,
            patterns,
            stop,
            split=self.split_watch,
            on_split=lambda: setattr(self, "split_watch", True),
        )
        return watch.run(start_revision)


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
