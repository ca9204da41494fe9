"""etcd's v3 JSON gateway: failover between endpoints, login tokens, and the error map.

`Transport` sends JSON requests to `/v3/...` on one endpoint at a time (over `_wire`'s
HTTP/1.1) and moves to the next one when an endpoint does not answer or answers as
something other than etcd. `translate()` is the one place where a transport failure or
an etcd error reply becomes one of confpy's errors, raised `from` the original.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from confpy.errors import (
    ConfigError,
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
)
from confpy.log import get_logger
from confpy.settings import Endpoint, Settings
from confpy.store._wire import Connection, Unreachable, parse_json

if TYPE_CHECKING:
    import ssl

log = get_logger("confpy.store")

# A failed endpoint is tried again after this long (unless every endpoint has failed).
RETRY_FAILED_AFTER = 1.0
# gRPC status codes in the gateway's error replies.
_CANCELLED, _INVALID_ARGUMENT, _DEADLINE, _NOT_FOUND, _PERMISSION = 1, 3, 4, 5, 7
_RESOURCE_EXHAUSTED = 8
_FAILED_PRECONDITION, _OUT_OF_RANGE, _UNAVAILABLE, _UNAUTHENTICATED = 9, 11, 14, 16


class EtcdReply(Exception):
    """etcd answered with an error: its gRPC `code` and message."""

    def __init__(self, code: int, message: str, *, compact_revision: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.compact_revision = compact_revision


@contextlib.contextmanager
def translate(what: str) -> Iterator[None]:
    """Map every transport failure and etcd error reply to confpy's errors."""
    try:
        yield
    except Unreachable as e:
        raise StoreUnavailableError(f"etcd unavailable during {what}: {e}") from e
    except EtcdReply as e:
        message = e.message
        if e.code == _OUT_OF_RANGE and "compacted" in message:
            raise RevisionCompactedError(0, e.compact_revision) from e
        if e.code == _INVALID_ARGUMENT and "authentication failed" in message:
            raise StoreAccessError(
                "etcd refused the login: check CONFPY_USERNAME and the password"
            ) from e
        if e.code == _UNAUTHENTICATED and "invalid auth token" in message:
            raise StoreUnavailableError(f"etcd auth token expired during {what}") from e
        if e.code in (_UNAUTHENTICATED, _PERMISSION) or (
            e.code == _INVALID_ARGUMENT and "user name is empty" in message
        ):
            raise StoreAccessError(
                f"etcd refused {what}: {message} (check the etcd user's roles)"
            ) from e
        if e.code == _RESOURCE_EXHAUSTED and "space exceeded" in message:
            raise StoreFullError(
                f"etcd refused {what}: database space exceeded (the NOSPACE alarm is raised; "
                "an operator must compact, defragment and disarm it)"
            ) from e
        if e.code in (_UNAVAILABLE, _DEADLINE, _CANCELLED):
            raise StoreUnavailableError(f"etcd unavailable during {what}: {message}") from e
        raise StoreError(f"etcd error during {what}: {message}") from e
    except (OSError, ValueError) as e:
        # What escaped the transport's own handling (a TLS file that went away, say).
        raise StoreUnavailableError(f"etcd unavailable during {what}: {e}") from e


def reply_error(data: Any) -> EtcdReply:
    """The error in a gateway reply: `{"code", "message"}`, or in a stream `{"error": {...}}`."""
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            return EtcdReply(int(inner.get("grpc_code", 2)), str(inner.get("message", "")))
        if "code" in data:
            return EtcdReply(int(data["code"]), str(data.get("message") or data.get("error")))
    return EtcdReply(2, "unexpected reply")


class Transport:
    """Requests to the gateway with failover between endpoints and a login token per endpoint."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
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
        if self._tls is not None:
            return self._tls
        import ssl

        s = self.settings
        try:
            context = ssl.create_default_context()
        except ssl.SSLError as e:  # pragma: no cover - the system store itself is broken
            raise ConfigError(f"cannot load the system CA certificates: {e}") from None
        if s.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(s.ca_file))
            except (ssl.SSLError, OSError, ValueError) as e:
                raise ConfigError(
                    f"--ca-file {s.ca_file}: not a readable PEM CA certificate ({_reason(e)})",
                    field="ca_file",
                ) from None
        if s.cert_file is not None:
            try:
                context.load_cert_chain(str(s.cert_file), str(s.key_file) if s.key_file else None)
            except (ssl.SSLError, OSError, ValueError) as e:
                raise ConfigError(
                    f"--cert-file {s.cert_file} / --key-file {s.key_file}: not a readable PEM "
                    f"certificate and matching key ({_reason(e)})",
                    field="cert_file",
                ) from None
        self._tls = context
        return context

    def _connection(self, index: int) -> Connection:
        with self._lock:
            idle = self._idle.get(index)
            if idle:
                return idle.pop()
        endpoint = self.endpoints[index]
        return Connection(endpoint, self.tls_context() if endpoint.secure else None, self.timeout)

    def _release(self, index: int, conn: Connection) -> None:
        if not conn.reusable:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault(index, []).append(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
            self._tokens.clear()
        for conns in idle.values():
            for conn in conns:
                conn.close()

    # -- requests -------------------------------------------------------------------------------

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """POST `body` to `/v3{path}`; the reply's first JSON object.

        An endpoint that cannot have acted on the request (refused, not etcd) is skipped at
        once; one that may have, only for idempotent requests. Raises `Unreachable` when no
        endpoint answered, `EtcdReply` for etcd's own error replies.
        """
        payload = json.dumps(body).encode()
        failures: list[Unreachable] = []
        for index in self._order():
            try:
                reply = self._call_one(index, path, payload, timeout or self.timeout)
            except Unreachable as e:
                self._failed(index)
                failures.append(e)
                if e.unsent or idempotent:
                    continue
                raise
            except EtcdReply as e:
                if e.code == _UNAVAILABLE and idempotent:
                    # A member without a leader, or stopping: another member may answer.
                    self._failed(index)
                    failures.append(Unreachable(self.endpoints[index], e.message, unsent=True))
                    continue
                raise
            self._succeeded(index)
            return reply
        raise _all_failed(failures)

    def _call_one(self, index: int, path: str, payload: bytes, timeout: float) -> dict[str, Any]:
        headers = self._auth_headers(index)
        try:
            return self._exchange(index, path, payload, headers, timeout)
        except EtcdReply as e:
            if e.code != _UNAUTHENTICATED or "invalid auth token" not in e.message:
                raise
            if not self.settings.username:
                raise
        # The simple token expired (--auth-token-ttl) or this member never issued it: log
        # in again and repeat; etcd refused the request, so repeating it is safe.
        with self._lock:
            self._tokens.pop(index, None)
        log.info("etcd auth token expired, logging in again", endpoint=str(self.endpoints[index]))
        return self._exchange(index, path, payload, self._auth_headers(index), timeout)

    def _exchange(
        self, index: int, path: str, payload: bytes, headers: dict[str, str], timeout: float
    ) -> dict[str, Any]:
        conn = self._connection(index)
        pooled = conn.used
        try:
            try:
                conn.send("/v3" + path, payload, headers)
                status, head = conn.read_head(timeout)
            except Unreachable as e:
                if not pooled or not isinstance(e.__cause__, ConnectionError):
                    raise
                # The endpoint had closed this idle connection (reset, not a timeout): once
                # more on a new one.
                conn.close()
                conn = Connection(conn.endpoint, conn.tls, timeout)
                conn.send("/v3" + path, payload, headers)
                status, head = conn.read_head(timeout)
            raw = conn.read_body(head, timeout)
            data = parse_json(conn.endpoint, raw, status)
        except BaseException:
            conn.close()  # midway through an exchange: never reused, never left open
            raise
        conn.used = True
        self._release(index, conn)
        if status != 200:
            if not _etcd_shaped(data):
                raise Unreachable(
                    conn.endpoint, f"answered HTTP {status}, not as etcd does", unsent=True
                )
            raise reply_error(data)
        if "result" in data and "header" not in data:
            data = data["result"]  # a one-message stream (lease keep-alive)
        if "error" in data:
            raise reply_error(data)
        if "header" not in data:
            raise Unreachable(
                conn.endpoint, "answered without etcd's reply header (not etcd?)", unsent=True
            )
        return data

    def _auth_headers(self, index: int) -> dict[str, str]:
        s = self.settings
        if not s.username:
            return {}
        with self._lock:
            token = self._tokens.get(index)
        if token is None:
            payload = json.dumps({"name": s.username, "password": s.password or ""}).encode()
            try:
                reply = self._exchange(index, "/auth/authenticate", payload, {}, self.timeout)
            except EtcdReply as e:
                if e.code == _FAILED_PRECONDITION and "not enabled" in e.message:
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
            try:
                headers = self._auth_headers(index)
                # A member that loses its leader cancels the watch instead of going quiet.
                headers["Grpc-Metadata-Hasleader"] = "true"
                conn = Connection(
                    self.endpoints[index],
                    self.tls_context() if self.endpoints[index].secure else None,
                    timeout,
                )
                conn.send("/v3" + path, body, headers)
                status, head = conn.read_head(timeout)
                if status != 200:
                    data = parse_json(conn.endpoint, conn.read_body(head, timeout), status)
                    conn.close()
                    if not _etcd_shaped(data):
                        raise Unreachable(
                            conn.endpoint, f"answered HTTP {status}, not as etcd does", unsent=True
                        )
                    raise reply_error(data)
                if head.get("transfer-encoding", "").lower() != "chunked":
                    conn.close()
                    raise Unreachable(
                        self.endpoints[index], "not an etcd watch stream", unsent=True
                    )
            except Unreachable as e:
                self._failed(index)
                failures.append(e)
                continue
            except EtcdReply as e:
                if e.code == _UNAVAILABLE:
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


def _etcd_shaped(data: dict[str, Any]) -> bool:
    inner = data.get("error")
    return ("code" in data and "message" in data) or (
        isinstance(inner, dict) and "grpc_code" in inner
    )


def _reason(e: BaseException) -> str:
    return str(getattr(e, "reason", None) or getattr(e, "strerror", None) or e)
