"""etcd's v3 JSON gateway: failover between endpoints, login tokens, cancellation.

`Transport` sends JSON requests to `/v3/...` on one endpoint at a time (over `_wire`'s
HTTP/1.1) and moves to the next one when an endpoint does not answer or answers as
something other than etcd. Errors are mapped to confpy's by `_errors.translate`.
`close()` ends every exchange in flight at once; a `Scope` ends one caller's.

Proxies and TLS: see `_endpoint`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from confpy.config.settings import Endpoint, Settings
from confpy.log import get_logger
from confpy.store._cancel import Scope
from confpy.store._endpoint import say_proxy_ignored, tls_context
from confpy.store._errors import Code, EtcdReply, Kind, etcd_shaped, reply_error
from confpy.store._wire import (
    Cancelled,
    Connection,
    Limits,
    TooLarge,
    Unreachable,
    parse_json,
)

if TYPE_CHECKING:
    import ssl

log = get_logger(__name__)

# A failed endpoint is tried again after this long (unless every endpoint has failed).
RETRY_FAILED_AFTER = 1.0
# Replies that carry keys and values get the generous range limit.
_RANGE_PATHS = frozenset({"/kv/range", "/kv/txn"})


class Transport:
    """Requests to the gateway with failover between endpoints and a login token per endpoint."""

    def __init__(self, settings: Settings, timeout: float, limits: Limits | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.limits = limits or Limits()
        self._inflight: set[Connection] = set()
        self.confirmed_at: float | None = None
        self.cluster_id: str | None = None
        self._closed = False
        self._local = threading.local()
        self.endpoints = settings.endpoints
        self._lock = threading.Lock()
        self._current = 0
        self._failed_at: dict[int, float] = {}
        self._idle: dict[int, list[Connection]] = {}
        self._tokens: dict[int, str] = {}
        self._tls: ssl.SSLContext | None = None

    # -- endpoints ------------------------------------------------------------------------------

    @property
    def current(self) -> Endpoint:
        return self.endpoints[self._current]

    def _order(self) -> list[int]:
        """The endpoint in use first, then the others; recently failed ones last."""
        n = len(self.endpoints)
        order = [(self._current + i) % n for i in range(n)]
        now = time.monotonic()
        fresh = [i for i in order if now - self._failed_at.get(i, -1e9) >= RETRY_FAILED_AFTER]
        return fresh + [i for i in order if i not in fresh]

    def _failed(self, index: int) -> None:
        with self._lock:
            self._failed_at[index] = time.monotonic()
            for conn in self._idle.pop(index, []):
                conn.close()
            self._tokens.pop(index, None)
            if index == self._current and len(self.endpoints) > 1:
                self._current = (index + 1) % len(self.endpoints)

    def _succeeded(self, index: int) -> None:
        self._failed_at.pop(index, None)
        self._current = index

    def tls_context(self) -> ssl.SSLContext:
        """Built once, on the first https:// connection: http:// clusters never load `ssl`."""
        if self._tls is None:
            self._tls = tls_context(self.settings)
        return self._tls

    def _connection(self, index: int, deadline: float) -> Connection:
        """An idle connection to endpoint `index` that is still in step, or a new one."""
        with self._lock:
            idle = self._idle.get(index, [])
            while idle:
                conn = idle.pop()
                if conn.idle_ok():
                    return conn
                conn.close()  # closed by the endpoint, or bytes nobody asked for: never read
        return self._connect(index, deadline)

    def _connect(self, index: int, deadline: float) -> Connection:
        endpoint = self.endpoints[index]
        say_proxy_ignored(endpoint)
        return Connection(endpoint, self.tls_context() if endpoint.secure else None, deadline)

    def _release(self, index: int, conn: Connection) -> None:
        if not conn.reusable:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault(index, []).append(conn)

    def close(self) -> None:
        """Close every connection, ending exchanges in flight at once; no new ones start."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
            inflight, self._inflight = list(self._inflight), set()
            self._tokens.clear()
        for conns in idle.values():
            for conn in conns:
                conn.close()
        for conn in inflight:
            conn.cancel()

    @contextlib.contextmanager
    def scope(self, scope: Scope) -> Iterator[None]:
        """Exchanges this thread starts inside are cancelled with `scope`."""
        outer = getattr(self._local, "scope", None)
        self._local.scope = scope
        try:
            yield
        finally:
            self._local.scope = outer

    @contextlib.contextmanager
    def _cancellable(self, conn: Connection) -> Iterator[None]:
        """While inside, `close()` and the thread's `Scope` can cancel `conn`'s exchange."""
        scope: Scope | None = getattr(self._local, "scope", None)
        with self._lock:
            if self._closed:
                conn.close()
                raise Cancelled("the store is closed")
            self._inflight.add(conn)
        try:
            if scope is not None:
                scope.add(conn)
            yield
        except (Unreachable, TooLarge) as e:
            if conn.cancelled:
                raise Cancelled("stopped") from e
            raise
        finally:
            with self._lock:
                self._inflight.discard(conn)
            if scope is not None:
                scope.discard(conn)

    # -- requests -------------------------------------------------------------------------------

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        idempotent: bool = True,
        timeout: float | None = None,
        only: Endpoint | None = None,
    ) -> dict[str, Any]:
        """POST `body` to `/v3{path}`; the reply's first JSON object (`only`: ask that
        endpoint and no other).

        An endpoint that cannot have acted on the request (refused, not etcd) is skipped at
        once; one that may have, only for idempotent requests. Each endpoint gets one
        deadline of `timeout` for the whole exchange. Raises `Unreachable` when no endpoint
        answered, `EtcdReply` for etcd's own error replies, `TooLarge` for a reply over its
        limit.
        """
        payload = json.dumps(body).encode()
        failures: list[Unreachable] = []
        order = self._order() if only is None else [self.endpoints.index(only)]
        for index in order:
            deadline = time.monotonic() + (timeout or self.timeout)
            try:
                reply = self._call_one(index, path, payload, deadline, idempotent)
            except Unreachable as e:
                self._failed(index)
                failures.append(e)
                if e.unsent or idempotent:
                    continue
                raise
            except EtcdReply as e:
                if e.code is Code.UNAVAILABLE and idempotent:
                    # A member without a leader, or stopping: another member may answer.
                    self._failed(index)
                    failures.append(Unreachable(self.endpoints[index], e.message, unsent=True))
                    continue
                raise
            self._succeeded(index)
            self.heard(reply)
            return reply
        raise _all_failed(failures)

    def heard(self, reply: dict[str, Any]) -> None:
        """etcd answered: note when, and which cluster (its reply header's `cluster_id`)."""
        self.confirmed_at = time.monotonic()
        header = reply.get("header")
        if isinstance(header, dict) and header.get("cluster_id"):
            self.cluster_id = str(header["cluster_id"])

    def _call_one(
        self, index: int, path: str, payload: bytes, deadline: float, idempotent: bool
    ) -> dict[str, Any]:
        headers = self._auth_headers(index, deadline)
        try:
            return self._exchange(index, path, payload, headers, deadline, idempotent)
        except EtcdReply as e:
            if e.kind is not Kind.TOKEN_INVALID:
                raise
            if not self.settings.username:
                raise
        # The simple token expired (--auth-token-ttl) or this member never issued it: log
        # in again and repeat; etcd refused the request, so repeating it is safe.
        with self._lock:
            self._tokens.pop(index, None)
        log.info("etcd auth token expired, logging in again", endpoint=str(self.endpoints[index]))
        headers = self._auth_headers(index, deadline)
        return self._exchange(index, path, payload, headers, deadline, idempotent)

    def _exchange(
        self,
        index: int,
        path: str,
        payload: bytes,
        headers: dict[str, str],
        deadline: float,
        idempotent: bool,
    ) -> dict[str, Any]:
        conn = self._connection(index, deadline)
        try:
            with self._cancellable(conn):
                status, _, raw = self._ask_and_read(
                    conn, path, payload, headers, deadline, idempotent
                )
            data = parse_json(conn.endpoint, raw, status, fresh=not conn.used)
        except BaseException:
            conn.close()  # midway through an exchange: never reused, never left open
            raise
        fresh = not conn.used
        conn.used = True
        self._release(index, conn)
        return self._answer(conn, status, data, fresh)

    def _ask_and_read(
        self,
        conn: Connection,
        path: str,
        payload: bytes,
        headers: dict[str, str],
        deadline: float,
        idempotent: bool,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            conn.send("/v3" + path, payload, headers, deadline)
            status, head = conn.read_head(deadline)
        except Unreachable as e:
            reset = isinstance(e.__cause__, ConnectionError)
            if not conn.used or conn.cancelled or not (e.unsent or (idempotent and reset)):
                raise
            # The endpoint had closed this idle connection just as we used it: once more on
            # a new one, if etcd cannot have acted on the request or it may run twice.
            conn.reopen(deadline)
            conn.send("/v3" + path, payload, headers, deadline)
            status, head = conn.read_head(deadline)
        limit, kind = self._limit(path, status)
        return status, head, conn.read_body(head, deadline, limit, kind)

    @staticmethod
    def _answer(conn: Connection, status: int, data: dict[str, Any], fresh: bool) -> dict[str, Any]:
        if status != 200:
            if not etcd_shaped(data):
                raise Unreachable(
                    conn.endpoint, f"answered HTTP {status}, not as etcd does", unsent=fresh
                )
            raise reply_error(data)
        if "result" in data and "header" not in data:
            data = data["result"]  # a one-message stream (lease keep-alive)
        if "error" in data:
            raise reply_error(data)
        if "header" not in data:
            raise Unreachable(
                conn.endpoint, "answered without etcd's reply header (not etcd?)", unsent=fresh
            )
        return data

    def _limit(self, path: str, status: int) -> tuple[int, str]:
        """The size limit of a reply to `path` (see `Limits`), and its kind's name."""
        if status != 200:
            return self.limits.error, "an error reply"
        if path in _RANGE_PATHS:
            return self.limits.range, "a range reply"
        if path == "/watch":
            return self.limits.event, "a watch event"
        return self.limits.small, "a reply"

    def _auth_headers(self, index: int, deadline: float) -> dict[str, str]:
        s = self.settings
        if not s.username:
            return {}
        with self._lock:
            token = self._tokens.get(index)
        if token is None:
            payload = json.dumps({"name": s.username, "password": s.password or ""}).encode()
            try:
                reply = self._exchange(index, "/auth/authenticate", payload, {}, deadline, True)
            except EtcdReply as e:
                if e.kind is Kind.AUTH_NOT_ENABLED:
                    return {}  # auth is off on this cluster: no token needed
                raise
            token = str(reply.get("token", ""))
            with self._lock:
                self._tokens[index] = token
        return {"Authorization": token} if token else {}

    def open_stream(self, path: str, body: bytes, timeout: float) -> Connection:
        """POST a streaming request (a watch) and return its connection, headers read.

        Fails over like an idempotent call; the caller reads messages with `_watch.read_message`.
        """
        failures: list[Unreachable] = []
        for index in self._order():
            deadline = time.monotonic() + timeout
            try:
                headers = self._auth_headers(index, deadline)
                # A member that loses its leader cancels the watch instead of going quiet.
                headers["Grpc-Metadata-Hasleader"] = "true"
                conn = self._connect(index, deadline)
                try:
                    with self._cancellable(conn):
                        conn.send("/v3" + path, body, headers, deadline)
                        status, head = conn.read_head(deadline)
                    if status != 200:
                        limit, kind = self._limit(path, status)
                        raw = conn.read_body(head, deadline, limit, kind)
                        data = parse_json(conn.endpoint, raw, status)
                        if not etcd_shaped(data):
                            raise Unreachable(
                                conn.endpoint,
                                f"answered HTTP {status}, not as etcd does",
                                unsent=True,
                            )
                        raise reply_error(data)
                    if head.get("transfer-encoding", "").lower() != "chunked":
                        raise Unreachable(conn.endpoint, "not an etcd watch stream", unsent=True)
                except BaseException:
                    conn.close()
                    raise
            except Unreachable as e:
                self._failed(index)
                failures.append(e)
                continue
            except EtcdReply as e:
                if e.code is Code.UNAVAILABLE:
                    self._failed(index)
                    failures.append(Unreachable(self.endpoints[index], e.message, unsent=True))
                    continue
                raise
            self._succeeded(index)
            conn.reusable = False
            return conn
        raise _all_failed(failures)

    def forget_token(self, endpoint: Endpoint) -> None:
        with self._lock:
            for i, ep in enumerate(self.endpoints):
                if ep == endpoint:
                    self._tokens.pop(i, None)

    def endpoint_failed(self, endpoint: Endpoint) -> None:
        for i, ep in enumerate(self.endpoints):
            if ep == endpoint:
                self._failed(i)


def _all_failed(failures: list[Unreachable]) -> Unreachable:
    """One error naming what each endpoint did."""
    last = failures[-1]
    return Unreachable(
        last.endpoint, last.reason, unsent=all(f.unsent for f in failures), others=failures[:-1]
    )
