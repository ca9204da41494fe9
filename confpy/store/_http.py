"""etcd's v3 JSON gateway over plain sockets: HTTP/1.1, failover, tokens, and the error map.

`Transport` sends JSON requests to `/v3/...` on one endpoint at a time and moves to the
next one when an endpoint does not answer or answers as something other than etcd.
`translate()` is the one place where a transport failure or an etcd error reply becomes
one of confpy's errors, raised `from` the original.

Why not `http.client`: it imports `ssl` at import time (an `http://` cluster needs no TLS
module), and a watch needs reads with a deadline that leave the stream usable when the
deadline passes, which its buffered reader does not allow. HTTP/1.1 with a JSON body and
a `Content-Length` or chunked answer is all the gateway speaks.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from confpy.errors import (
    ConfigError,
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
)
from confpy.log import get_logger
from confpy.settings import Endpoint, Settings

if TYPE_CHECKING:
    import ssl

log = get_logger("confpy.store")

# A failed endpoint is tried again after this long (unless every endpoint has failed).
RETRY_FAILED_AFTER = 1.0
# gRPC status codes in the gateway's error replies.
_CANCELLED, _INVALID_ARGUMENT, _DEADLINE, _NOT_FOUND, _PERMISSION = 1, 3, 4, 5, 7
_FAILED_PRECONDITION, _OUT_OF_RANGE, _UNAVAILABLE, _UNAUTHENTICATED = 9, 11, 14, 16
_MAX_HEAD = 64 * 1024


class Unreachable(Exception):
    """The endpoint did not answer as etcd: refused, reset, timed out, or not etcd at all.

    `unsent` is true when etcd cannot have acted on the request (no connection, or the
    reply came from something else), so another endpoint may be asked at once.
    """

    def __init__(self, endpoint: Endpoint, reason: str, *, unsent: bool,
                 others: Sequence[Unreachable] = ()) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.unsent = unsent
        super().__init__("; ".join(f"{e.endpoint}: {e.reason}" for e in (*others, self)))


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
        message = e.message.removeprefix("etcdserver: ")
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


class Connection:
    """One HTTP/1.1 connection to one endpoint, with its own read buffer."""

    def __init__(self, endpoint: Endpoint, tls: ssl.SSLContext | None, timeout: float) -> None:
        self.endpoint = endpoint
        try:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        except OSError as e:
            raise Unreachable(endpoint, f"cannot connect: {e.strerror or e}", unsent=True) from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=endpoint.host)
            except OSError as e:
                sock.close()
                raise Unreachable(endpoint, f"TLS handshake failed: {e}", unsent=True) from e
        self.sock = sock
        self.tls = tls
        self.buf = bytearray()
        self.reusable = True
        self.used = False

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.endpoint.netloc}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        except OSError as e:
            self.close()
            raise Unreachable(self.endpoint, f"send failed: {e}", unsent=True) from e

    def _fill(self, timeout: float | None) -> None:
        """Read more bytes into the buffer; a timeout leaves the buffer and stream intact."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("connection closed by the endpoint")
        self.buf += data

    def read_head(self, timeout: float) -> tuple[int, dict[str, str]]:
        """The status and headers; anything that is not an HTTP reply is `Unreachable`."""
        deadline = time.monotonic() + timeout
        try:
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if len(self.buf) > _MAX_HEAD:
                    raise ValueError("reply head too long")
                self._fill(max(0.001, deadline - time.monotonic()))
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            version, status, *_ = [*lines[0].split(" ", 2), ""]
            if not version.startswith("HTTP/1.") or not status.isdigit():
                raise ValueError("not an HTTP reply")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        except (OSError, ValueError) as e:
            self.close()
            # A reply that is not HTTP at all comes from something other than etcd.
            raise Unreachable(self.endpoint, str(e) or type(e).__name__,
                              unsent=isinstance(e, ValueError)) from e
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        return int(status), headers

    def read_body(self, headers: dict[str, str], timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out = bytearray()
        try:
            if "content-length" in headers:
                n = int(headers["content-length"])
                while len(self.buf) < n:
                    self._fill(max(0.001, deadline - time.monotonic()))
                out += self.buf[:n]
                del self.buf[:n]
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                while (chunk := self.next_chunk(max(0.001, deadline - time.monotonic()))):
                    out += chunk
            else:
                self.reusable = False
                with contextlib.suppress(ConnectionResetError):
                    while True:
                        self._fill(max(0.001, deadline - time.monotonic()))
                out += self.buf
                self.buf.clear()
        except (OSError, ValueError) as e:
            self.close()
            raise Unreachable(self.endpoint, f"reading the reply: {e}", unsent=False) from e
        return bytes(out)

    def next_chunk(self, timeout: float | None) -> bytes:
        """The next chunk of a chunked body (b"" at its end). Raises TimeoutError, stream intact."""
        while True:
            line_end = self.buf.find(b"\r\n")
            if line_end >= 0:
                size = int(bytes(self.buf[:line_end]).split(b";")[0], 16)
                if len(self.buf) >= line_end + 2 + size + 2:
                    chunk = bytes(self.buf[line_end + 2 : line_end + 2 + size])
                    del self.buf[: line_end + 2 + size + 2]
                    if size == 0:
                        self.buf.clear()  # trailers are not used by the gateway
                    return chunk
            self._fill(timeout)


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
        self, path: str, body: dict[str, Any], *, idempotent: bool = True,
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
            conn.send("/v3" + path, payload, headers)
            status, head = conn.read_head(timeout)
        except Unreachable:
            if not pooled:
                raise
            # The endpoint closed an idle pooled connection: once more on a new one.
            conn = Connection(conn.endpoint, conn.tls, timeout)
            conn.send("/v3" + path, payload, headers)
            status, head = conn.read_head(timeout)
        raw = conn.read_body(head, timeout)
        data = _parse(conn.endpoint, raw, status)
        conn.used = True
        self._release(index, conn)
        if status != 200:
            if not _etcd_shaped(data):
                raise Unreachable(conn.endpoint, f"answered HTTP {status}, not as etcd does",
                                  unsent=True)
            raise reply_error(data)
        if "result" in data and "header" not in data:
            data = data["result"]  # a one-message stream (lease keep-alive)
        if "error" in data:
            raise reply_error(data)
        if "header" not in data:
            raise Unreachable(conn.endpoint, "answered without etcd's reply header (not etcd?)",
                              unsent=True)
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

        Fails over like an idempotent call; the caller reads messages with `read_message`.
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
                    data = _parse(conn.endpoint, conn.read_body(head, timeout), status)
                    conn.close()
                    if not _etcd_shaped(data):
                        raise Unreachable(conn.endpoint, f"answered HTTP {status}, not as etcd "
                                          "does", unsent=True)
                    raise reply_error(data)
                if head.get("transfer-encoding", "").lower() != "chunked":
                    conn.close()
                    raise Unreachable(self.endpoints[index], "not an etcd watch stream",
                                      unsent=True)
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


def read_message(conn: Connection, pending: bytearray, timeout: float | None) -> dict[str, Any]:
    """The next JSON message of a watch stream; TimeoutError when none came in `timeout`.

    The gateway ends each message with a newline; chunks need not align with messages.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while (end := pending.find(b"\n")) < 0:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if remaining == 0.0:
            raise TimeoutError
        try:
            chunk = conn.next_chunk(remaining)
        except TimeoutError:
            raise
        except (OSError, ValueError) as e:
            raise Unreachable(conn.endpoint, f"watch stream broken: {e}", unsent=False) from e
        if not chunk:
            raise Unreachable(conn.endpoint, "etcd closed the watch stream", unsent=False)
        pending += chunk
    line = bytes(pending[:end])
    del pending[: end + 1]
    data = _parse(conn.endpoint, line, 200)
    if "error" in data:
        raise reply_error(data)
    result = data.get("result")
    if not isinstance(result, dict):
        raise Unreachable(conn.endpoint, "not an etcd watch message", unsent=False)
    return result


def _parse(endpoint: Endpoint, raw: bytes, status: int) -> dict[str, Any]:
    """The first JSON object of a reply; anything else means the endpoint is not etcd."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise Unreachable(endpoint, f"answered HTTP {status} without etcd's JSON (not etcd?)",
                          unsent=True)
    return data


def _all_failed(failures: list[Unreachable]) -> Unreachable:
    """One error naming what each endpoint did."""
    last = failures[-1]
    return Unreachable(last.endpoint, last.reason, unsent=all(f.unsent for f in failures),
                       others=failures[:-1])


def _etcd_shaped(data: dict[str, Any]) -> bool:
    inner = data.get("error")
    return ("code" in data and "message" in data) or (
        isinstance(inner, dict) and "grpc_code" in inner
    )


def _reason(e: BaseException) -> str:
    return str(getattr(e, "reason", None) or getattr(e, "strerror", None) or e)
