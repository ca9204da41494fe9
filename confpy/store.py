"""The etcd store: the only module that imports `etcd3` and grpc, and maps their errors.

`EtcdStore` implements `confpy.snapshot.Store` over the etcd v3 gRPC API:
consistent multi-key snapshots at one revision, one watch stream, compare-and-swap
transactions and leases. Every gRPC failure is translated in `_translate()` into
confpy's own errors, raised `from` the original.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import etcd3
import etcd3.exceptions
import grpc
from etcd3 import etcdrpc
from etcd3.etcdrpc import kv_pb2

from confpy.errors import (
    ConfigError,
    ConflictError,
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
    WatchGapError,
)
from confpy.keys import key_matches, watch_ranges
from confpy.log import get_logger
from confpy.settings import Settings
from confpy.snapshot import Event, Snapshot, WatchBatch

log = get_logger("confpy.store")

# etcd refuses transactions of more than 128 operations by default (--max-txn-ops).
_TXN_OPS = 100
# grpc's default 4 MiB receive limit is too small for a snapshot of thousands of keys.
_MAX_MESSAGE = 256 * 1024 * 1024
# With one watch per range, one transaction's events arrive as one response per range:
# gather responses until the stream has been quiet this long (at most _SETTLE_MAX).
_SETTLE = 0.02
_SETTLE_MAX = 0.2
_END = object()


def prefix_end(prefix: bytes) -> bytes:
    """The range end that makes a range read or watch cover every key starting with `prefix`."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


@contextlib.contextmanager
def _translate(what: str, client: Any = None, on_token_expired: Any = None) -> Iterator[None]:
    """Map grpc and etcd3 failures to confpy's errors; mark a failing endpoint for failover."""
    try:
        yield
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        detail = (e.details() if hasattr(e, "details") else str(e)) or ""
        if code == grpc.StatusCode.UNAUTHENTICATED and "invalid auth token" in detail:
            # etcd's simple tokens expire (--auth-token-ttl, 5 min by default): log in
            # again on the next call, and let the caller retry as for an outage.
            if on_token_expired is not None:
                on_token_expired()
            raise StoreUnavailableError(f"etcd auth token expired during {what}") from e
        if code == grpc.StatusCode.INVALID_ARGUMENT and "authentication failed" in detail:
            raise StoreAccessError(
                "etcd refused the login: check CONFPY_USERNAME and the password"
            ) from e
        if code in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.CANCELLED,
        ):
            if client is not None and code is not grpc.StatusCode.CANCELLED:
                with contextlib.suppress(Exception):
                    client.endpoint_in_use.fail()
            raise StoreUnavailableError(f"etcd unavailable during {what}: {detail}") from e
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise StoreAccessError(
                f"etcd refused {what}: {detail} (check the etcd user's roles)"
            ) from e
        if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (detail or ""):
            raise RevisionCompactedError(0, 0) from e
        raise StoreError(f"etcd error during {what}: {detail}") from e
    except etcd3.exceptions.NoServerAvailableError as e:
        raise StoreUnavailableError(f"no etcd endpoint available for {what}") from e
    except etcd3.exceptions.Etcd3Exception as e:
        raise StoreUnavailableError(f"etcd unavailable during {what}: {type(e).__name__}") from e


class EtcdStore:
    """A `Store` on an etcd v3 cluster, connecting lazily and failing over between endpoints."""

    def __init__(self, settings: Settings, *, timeout: float = 5.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()
        # Set once etcd refuses to watch the whole span for lack of permission.
        self.split_watch = False

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
            s = self.settings
            creds = None
            if any(ep.secure for ep in s.endpoints):
                try:
                    creds = grpc.ssl_channel_credentials(
                        s.ca_file.read_bytes() if s.ca_file else None,
                        s.key_file.read_bytes() if s.key_file else None,
                        s.cert_file.read_bytes() if s.cert_file else None,
                    )
                except OSError as e:
                    raise ConfigError(f"cannot read TLS file: {e}") from None
            opts = [
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                # Notice a dead member within seconds rather than at the next TCP timeout.
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1_000),
            ]
            endpoints = [
                etcd3.Endpoint(
                    ep.host,
                    ep.port,
                    secure=ep.secure,
                    creds=creds if ep.secure else None,
                    # A failed member is tried again after a second, not etcd3's 5 minutes.
                    time_retry=1.0,
                    opts=opts,  # type: ignore[arg-type]
                )
                for ep in s.endpoints
            ]
            with _translate("connect"):
                self._client = etcd3.MultiEndpointEtcd3Client(
                    endpoints=endpoints,
                    timeout=self.timeout,
                    user=s.username,
                    password=s.password,
                    failover=True,
                )
            return self._client

    def _call(self, what: str, fn: Any, request: Any, timeout: float | None = None) -> Any:
        client = self._connect()
        with _translate(what, client, self._forget_client):
            # The auth token travels in metadata: gRPC refuses call credentials on the
            # plain-text channels most etcd clusters use.
            return fn(client)(request, timeout or self.timeout, metadata=client.metadata)

    @property
    def endpoint(self) -> str:
        """The endpoint currently in use, for logs."""
        if self._client is None:
            return ",".join(str(e) for e in self.settings.endpoints)
        with contextlib.suppress(Exception):
            return str(self._client.endpoint_in_use)
        return "?"

    def _forget_client(self) -> None:
        """Drop the connection so the next call connects and authenticates afresh."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None

    # -- reads ------------------------------------------------------------------------------

    def current_revision(self) -> int:
        request = etcdrpc.RangeRequest(key=b"\0", count_only=True)
        return int(self._call("status", lambda c: c.kvstub.Range, request).header.revision)

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
        revision = 0
        values: dict[str, bytes] = {}
        for start in range(0, max(len(ranges), 1), _TXN_OPS):
            chunk = ranges[start : start + _TXN_OPS]
            request = etcdrpc.TxnRequest(
                success=[
                    etcdrpc.RequestOp(
                        request_range=etcdrpc.RangeRequest(
                            key=key, range_end=end or b"", revision=revision
                        )
                    )
                    for key, end in chunk
                ]
            )
            response = self._call("snapshot read", lambda c: c.kvstub.Txn, request)
            if not revision:
                revision = int(response.header.revision)
            for op in response.responses:
                for kv in op.response_range.kvs:
                    values[kv.key.decode("utf-8", "replace")] = bytes(kv.value)
        return Snapshot(revision, values)

    def get(self, key: str) -> tuple[bytes | None, int]:
        response = self._call(
            "get", lambda c: c.kvstub.Range, etcdrpc.RangeRequest(key=key.encode())
        )
        if not response.kvs:
            return None, 0
        kv = response.kvs[0]
        return bytes(kv.value), int(kv.mod_revision)

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        request = etcdrpc.PutRequest(key=key.encode(), value=value, lease=lease or 0)
        return int(self._call("put", lambda c: c.kvstub.Put, request).header.revision)

    def delete(self, key: str) -> int:
        request = etcdrpc.DeleteRangeRequest(key=key.encode())
        return int(self._call("delete", lambda c: c.kvstub.DeleteRange, request).header.revision)

    def put_atomic(
        self,
        values: Mapping[str, bytes],
        expect: Mapping[str, int],
        delete: Sequence[str] = (),
    ) -> int:
        """Write `values` and delete `delete` in one revision, if each `expect` key is still
        at that mod revision (0: absent)."""
        compare = [
            etcdrpc.Compare(
                key=k.encode(),
                result=etcdrpc.Compare.EQUAL,
                target=etcdrpc.Compare.MOD,
                mod_revision=rev,
            )
            for k, rev in expect.items()
        ]
        request = etcdrpc.TxnRequest(
            compare=compare,
            success=[
                etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k.encode(), value=v))
                for k, v in values.items()
            ]
            + [
                etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=k.encode()))
                for k in delete
            ],
        )
        response = self._call("transaction", lambda c: c.kvstub.Txn, request)
        if not response.succeeded:
            raise ConflictError(
                "another writer changed " + ", ".join(expect) + " first; nothing was written"
            )
        return int(response.header.revision)

    # -- leases -----------------------------------------------------------------------------

    def grant_lease(self, ttl: int) -> int:
        request = etcdrpc.LeaseGrantRequest(TTL=ttl, ID=0)
        return int(self._call("lease grant", lambda c: c.leasestub.LeaseGrant, request).ID)

    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease once; return its remaining TTL in seconds (0: it has expired)."""
        client = self._connect()
        request = etcdrpc.LeaseKeepAliveRequest(ID=lease_id)
        with _translate("lease keep-alive", client, self._forget_client):
            for response in client.leasestub.LeaseKeepAlive(
                iter([request]), self.timeout, metadata=client.metadata
            ):
                return int(response.TTL)
        return 0

    def revoke_lease(self, lease_id: int) -> None:
        request = etcdrpc.LeaseRevokeRequest(ID=lease_id)
        try:
            self._call("lease revoke", lambda c: c.leasestub.LeaseRevoke, request)
        except StoreError as e:
            # An expired lease is already gone: that is what revoking wanted.
            if "not found" not in str(e):
                raise

    def compact(self, revision: int) -> None:
        request = etcdrpc.CompactionRequest(revision=revision, physical=True)
        self._call("compaction", lambda c: c.kvstub.Compact, request, timeout=30)

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        """Watch every pattern on one stream, yielding batches by revision.

        One watch spans from the smallest to the largest pattern, so that all events of
        one transaction arrive in one response (separate watches deliver them in separate
        responses, and a reload could run between the two). Keys in the span that no
        pattern matches are dropped here. When the etcd user may not read the whole span,
        confpy falls back to one watch per range on the same stream, gathers responses
        that arrive together (`_SETTLE`), and raises `WatchGapError` if that stream
        breaks, since no single revision is then known to resume from.
        """
        ranges = watch_ranges(patterns)
        if not ranges:
            stop.wait()
            return
        spans = [(r.encode(), prefix_end(r.encode())) for r in ranges]
        if not self.split_watch:
            if ranges == ["/"]:
                whole = (b"/", prefix_end(b"/"))
            else:
                whole = (spans[0][0], max(end for _, end in spans))
            try:
                yield from self._watch_spans([whole], patterns, start_revision, stop)
                return
            except _SpanRefused:
                if len(spans) == 1:
                    raise StoreAccessError(
                        f"etcd refused to watch {ranges[0]}: permission denied "
                        "(the etcd user's roles must allow reading it)"
                    ) from None
                self.split_watch = True
                log.warning(
                    "no read permission on the span from the lowest to the highest "
                    "watched key; watching each range separately",
                    ranges=ranges,
                )
        try:
            yield from self._watch_spans(spans, patterns, start_revision, stop)
        except _SpanRefused as e:
            raise WatchGapError(
                f"etcd refused to watch {ranges[e.index]}: permission denied "
                "(the etcd user's roles must allow reading it)"
            ) from None
        except StoreError as e:
            if isinstance(e, WatchGapError):
                raise
            raise WatchGapError(str(e)) from e

    def _watch_spans(
        self,
        spans: list[tuple[bytes, bytes]],
        patterns: Sequence[str],
        start_revision: int,
        stop: threading.Event,
    ) -> Iterator[WatchBatch]:
        """One watch per span on one stream; with several, responses are merged (settled)."""
        client = self._connect()
        requests: queue.Queue[Any] = queue.Queue()
        responses: queue.Queue[Any] = queue.Queue()

        def create(i: int) -> Any:
            low, high = spans[i]
            return etcdrpc.WatchRequest(
                create_request=etcdrpc.WatchCreateRequest(
                    key=low, range_end=high, start_revision=start_revision, progress_notify=True
                )
            )

        def request_stream() -> Iterator[Any]:
            while True:
                item = requests.get()
                if item is None:
                    return
                yield item

        # Watches are created one at a time: etcd answers a refused one with watch id -1,
        # so only the order tells which range it was.
        requests.put(create(0))
        with _translate("watch", client):
            call = etcdrpc.WatchStub(client.channel).Watch(
                request_stream(), metadata=client.metadata
            )

        def read() -> None:
            try:
                for response in call:
                    responses.put(response)
                responses.put(_END)
            except Exception as e:  # handed to the generator, which translates it
                responses.put(e)

        finished = threading.Event()

        def cancel_on_stop() -> None:
            while not finished.is_set():
                if stop.wait(0.1):
                    break
            call.cancel()
            requests.put(None)

        threading.Thread(target=read, name="confpy-watch-read", daemon=True).start()
        threading.Thread(target=cancel_on_stop, name="confpy-watch-cancel", daemon=True).start()
        settle = len(spans) > 1
        created = 0
        held: list[Event] = []
        held_revision = 0
        first_at = last_at = 0.0
        try:
            with _translate("watch", client, self._forget_client):
                while True:
                    timeout = None
                    if held:
                        now = time.monotonic()
                        due = min(last_at + _SETTLE, first_at + _SETTLE_MAX)
                        timeout = max(0.0, due - now)
                    try:
                        item = responses.get(timeout=timeout)
                    except queue.Empty:
                        item = None
                    if item is None or (item is _END and held):
                        yield WatchBatch(held_revision, tuple(held))
                        held, held_revision = [], 0
                        if item is None:
                            continue
                    if item is _END:
                        break
                    if isinstance(item, Exception):
                        raise item
                    response = item
                    if response.compact_revision:
                        raise RevisionCompactedError(start_revision, int(response.compact_revision))
                    if response.canceled:
                        reason = response.cancel_reason or "no reason given"
                        if "permission denied" in reason and created < len(spans):
                            raise _SpanRefused(created)
                        raise StoreUnavailableError("etcd cancelled the watch: " + reason)
                    if response.created and not response.events:
                        created += 1
                        if created < len(spans):
                            requests.put(create(created))
                        else:
                            # Connected; nothing new yet. Events from start_revision follow.
                            yield WatchBatch(start_revision - 1, ())
                        continue
                    events = _matching_events(response, patterns)
                    if not settle:
                        if response.events:
                            revision = max(int(ev.kv.mod_revision) for ev in response.events)
                        else:
                            revision = int(response.header.revision)
                        yield WatchBatch(revision, events)
                    elif events:
                        # Progress notifications are not used here: each range's would only
                        # speak for that range.
                        now = time.monotonic()
                        if not held:
                            first_at = now
                        last_at = now
                        held.extend(events)
                        held_revision = max(held_revision, *(e.mod_revision for e in events))
        except StoreUnavailableError:
            if stop.is_set():
                return
            raise
        finally:
            finished.set()
            call.cancel()
            requests.put(None)
        if not stop.is_set():
            raise StoreUnavailableError("etcd closed the watch stream")


class _SpanRefused(Exception):
    """etcd refused to create watch number `index` for lack of read permission."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _matching_events(response: Any, patterns: Sequence[str]) -> tuple[Event, ...]:
    return tuple(
        Event(
            key,
            None if ev.type == kv_pb2.Event.DELETE else bytes(ev.kv.value),
            int(ev.kv.mod_revision),
        )
        for ev in response.events
        if any(key_matches(p, key := ev.kv.key.decode("utf-8", "replace")) for p in patterns)
    )


def _dedupe(patterns: Sequence[str]) -> list[str]:
    """Drop patterns that lie below another pattern: their keys are read already."""
    out: list[str] = []
    for p in sorted(set(patterns)):
        if not any(key_matches(q, p) for q in out):
            out.append(p)
    return out
