"""HTTP/1.1 on a socket, as much as etcd's gateway needs, bounded in time and in size.

Every exchange has one deadline, for the connection, the request and the whole reply
together: each read waits only for what is left of it, so a reply that drips a byte at a
time ends at the deadline like one that never comes. Every reply has a size limit by kind
(`Limits`), checked before the bytes are kept: a huge `Content-Length` is refused before a
byte of the body is read. Interim `1xx` replies nobody asked for are skipped (RFC 9110
§15.2). A connection whose framing is in doubt (bytes after the end of a reply, bytes
arriving while it sat idle) is closed, never read as the next reply.

Why not `http.client`: it imports `ssl` at import time (an `http://` cluster needs no TLS
module), and a watch needs reads with a deadline that leave the stream usable when the
deadline passes, which its buffered reader does not allow.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confpy.config.settings import Endpoint

if TYPE_CHECKING:
    import ssl

_MAX_HEAD = 64 * 1024
_MAX_CHUNK_LINE = 1024
_MAX_INTERIM = 100
"""Interim (1xx) replies skipped before the real one; more means a misbehaving server."""
KEEPALIVE = (30, 10, 3)
"""TCP keepalive on every connection: first probe after 30 s idle, then every 10 s, dead
after 3 unanswered: a peer that vanished (host down, partition) is noticed within 60 s
even on a watch stream that is legitimately silent."""

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bytes one reply from etcd may have, by kind (see docs/operations.md, "Limits")."""

    range: int = 512 * MiB
    """A read that carries keys and values (range, transaction): a whole snapshot."""
    event: int = 64 * MiB
    """One message of a watch stream (the events etcd delivers together)."""
    small: int = 4 * MiB
    """Every other reply (put, lease, status, login), which carry no values."""
    error: int = 64 * 1024
    """A reply that is not `200 OK` (etcd's error object)."""


class Unreachable(Exception):
    """The endpoint did not answer as etcd: refused, reset, timed out, or not etcd at all.

    `unsent` is true only when etcd cannot have acted on the request (no connection, the
    request not fully written, or a first reply that came from something else), so another
    endpoint may be asked at once even for a request that must not run twice.
    """

    def __init__(
        self, endpoint: Endpoint, reason: str, *, unsent: bool, others: Sequence[Unreachable] = ()
    ) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.unsent = unsent
        super().__init__("; ".join(f"{e.endpoint}: {e.reason}" for e in (*others, self)))


class TooLarge(Exception):
    """A reply (or one watch message) is larger than its limit: named, never shown."""

    def __init__(self, endpoint: Endpoint, path: str, limit: int, kind: str) -> None:
        super().__init__(
            f"{endpoint}: the reply to {path} is larger than the limit of {limit} bytes for {kind}"
        )
        self.endpoint = endpoint
        self.limit = limit


class Cancelled(Exception):
    """An exchange was cancelled: the store closed, or its caller stopping."""


class NotHTTP(ValueError):
    """Bytes that are not an HTTP/1.1 reply, or break its framing."""


class Connection:
    """One HTTP/1.1 connection to one endpoint, with its own read buffer.

    `close()` may be called from another thread: a read blocked on the socket then ends
    at once (that is how a stop cancels an exchange).
    """

    def __init__(
        self, endpoint: Endpoint, tls: ssl.SSLContext | None, deadline: float, path: str = ""
    ) -> None:
        self.endpoint = endpoint
        self.path = path
        self.tls = tls
        self.cancelled = False
        self.sock = self._open(deadline)
        self.buf = bytearray()
        self.reusable = True
        self.used = False
        self.closed = False

    def _open(self, deadline: float) -> socket.socket | ssl.SSLSocket:
        endpoint = self.endpoint
        try:
            # An ASCII host as bytes (getaddrinfo takes either; typeshed says str): a str is
            # encoded with the idna codec, which loads stringprep and unicodedata.
            host = endpoint.host.encode() if endpoint.host.isascii() else endpoint.host
            address = (host, endpoint.port)
            sock = socket.create_connection(address, timeout=_remaining(deadline))  # type: ignore[arg-type]
        except OSError as e:
            raise Unreachable(endpoint, f"cannot connect: {_why(e)}", unsent=True) from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _keepalive(sock)
        if self.tls is None:
            return sock
        try:
            sock.settimeout(_remaining(deadline))
            return self.tls.wrap_socket(sock, server_hostname=endpoint.host)
        except OSError as e:
            sock.close()
            raise Unreachable(endpoint, f"TLS handshake failed: {_why(e)}", unsent=True) from e

    def reopen(self, deadline: float) -> None:
        """A new socket to the same endpoint in place of this one (same object, so whoever
        may cancel this connection still can)."""
        self.close()
        sock = self._open(deadline)
        if self.cancelled:  # cancelled while connecting
            sock.close()
            raise Unreachable(self.endpoint, "cancelled", unsent=True)
        self.sock, self.buf, self.used = sock, bytearray(), False
        self.closed, self.reusable = False, True

    def cancel(self) -> None:
        """Close from another thread, for good: a blocked read ends at once."""
        self.cancelled = True
        self.close()

    def close(self) -> None:
        self.reusable = False
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def idle_ok(self) -> bool:
        """True if nothing arrived while the connection sat idle (no data, no close)."""
        if self.closed or self.buf:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def send(self, path: str, body: bytes, headers: dict[str, str], deadline: float) -> None:
        """Write the request; a failure here means etcd never had all of it (`unsent`)."""
        self.path = path
        head = [f"POST {path} HTTP/1.1", f"Host: {self.endpoint.netloc}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            # Since Python 3.5 the timeout bounds the whole sendall, not each send.
            self.sock.settimeout(_remaining(deadline))
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        except OSError as e:
            self.close()
            raise Unreachable(self.endpoint, f"send failed: {_why(e)}", unsent=True) from e

    def _fill(self, deadline: float | None) -> None:
        """Read more bytes into the buffer; TimeoutError at `deadline`, stream intact."""
        if self.closed:
            raise ConnectionAbortedError("connection closed")
        # Never 0, which would make the socket non-blocking (BlockingIOError, not a timeout).
        self.sock.settimeout(None if deadline is None else _remaining(deadline))
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("connection closed by the endpoint")
        self.buf += data

    def read_head(self, deadline: float) -> tuple[int, dict[str, str]]:
        """The status and headers of the reply, interim (1xx) replies skipped.

        Anything that is not an HTTP reply is `Unreachable`; it counts as `unsent` only on
        a connection's first exchange (a reused one may be out of step).
        """
        try:
            for _ in range(_MAX_INTERIM):
                status, headers = self._one_head(deadline)
                if not 100 <= status < 200:
                    break
                if status == 101:
                    raise NotHTTP("switched protocols unasked")
            else:
                raise NotHTTP(f"more than {_MAX_INTERIM} interim replies")
        except (OSError, ValueError) as e:
            self.close()
            raise Unreachable(
                self.endpoint, _why(e), unsent=isinstance(e, NotHTTP) and not self.used
            ) from e
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        return status, headers

    def _one_head(self, deadline: float) -> tuple[int, dict[str, str]]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > _MAX_HEAD:
                raise NotHTTP("reply head too long")
            self._fill(deadline)
        if end > _MAX_HEAD:
            raise NotHTTP("reply head too long")
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        version, status, *_ = [*lines[0].split(" ", 2), ""]
        if not version.startswith("HTTP/1.") or not (status.isascii() and status.isdigit()):
            raise NotHTTP("not an HTTP reply")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status), headers

    def read_body(self, headers: dict[str, str], deadline: float, limit: int, kind: str) -> bytes:
        """The whole body, at most `limit` bytes (`TooLarge` names the limit, not the body)."""
        try:
            if "transfer-encoding" in headers:
                if headers["transfer-encoding"].lower() != "chunked":
                    raise NotHTTP("unknown transfer encoding")
                return self._chunked_body(deadline, limit, kind)
            if "content-length" in headers:
                return self._sized_body(headers["content-length"], deadline, limit, kind)
            # Neither: the body ends when the endpoint closes the connection.
            self.reusable = False
            with contextlib.suppress(ConnectionResetError):
                while len(self.buf) <= limit:
                    self._fill(deadline)
            if len(self.buf) > limit:
                raise self._too_large(limit, kind)
            out = bytes(self.buf)
            self.buf.clear()
            return out
        except TooLarge:
            self.close()
            raise
        except (OSError, ValueError) as e:
            self.close()
            raise Unreachable(self.endpoint, f"reading the reply: {_why(e)}", unsent=False) from e

    def _sized_body(self, length: str, deadline: float, limit: int, kind: str) -> bytes:
        if not (length.isascii() and length.isdigit()):
            raise NotHTTP("bad Content-Length")
        n = int(length)
        if n > limit:
            raise self._too_large(limit, kind)
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        if self.buf:
            # More than the reply said it had: the framing is in doubt, so this connection
            # is never read again (what follows is not the answer to anything we asked).
            self.reusable = False
            self.buf.clear()
        return out

    def _chunked_body(self, deadline: float, limit: int, kind: str) -> bytes:
        out = bytearray()
        while chunk := self.next_chunk(deadline, limit, kind, have=len(out)):
            out += chunk
        return bytes(out)

    def next_chunk(self, deadline: float | None, limit: int, kind: str, have: int = 0) -> bytes:
        """The next chunk of a chunked body (b"" at its end), refused when it would take
        what the caller `have`s past `limit` bytes.

        TimeoutError at `deadline` leaves the stream intact (a watch reads on after it);
        bad framing is `NotHTTP`.
        """
        while (line_end := self.buf.find(b"\r\n")) < 0:
            if len(self.buf) > _MAX_CHUNK_LINE:
                raise NotHTTP("chunk size line too long")
            self._fill(deadline)
        size_text = bytes(self.buf[:line_end]).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise NotHTTP("bad chunk size") from None
        if size < 0 or not size_text.isalnum():
            raise NotHTTP("bad chunk size")
        if have + size > limit:
            raise self._too_large(limit, kind)
        while len(self.buf) < line_end + 2 + size + 2:
            self._fill(deadline)
        start = line_end + 2
        if self.buf[start + size : start + size + 2] != b"\r\n":
            raise NotHTTP("chunk not followed by CRLF")
        chunk = bytes(self.buf[start : start + size])
        del self.buf[: start + size + 2]
        if size == 0 and self.buf:
            # Trailers (the gateway sends none) or bytes beyond the reply: not reused.
            self.reusable = False
            self.buf.clear()
        return chunk

    def _too_large(self, limit: int, kind: str) -> TooLarge:
        return TooLarge(self.endpoint, self.path, limit, kind)


def _remaining(deadline: float) -> float:
    """Seconds left until `deadline`; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return max(left, 0.001)


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = KEEPALIVE
    for name, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", count),
    ):
        option = getattr(socket, name, None)
        if option is not None:  # Linux has all three; elsewhere the system defaults apply
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _why(e: BaseException) -> str:
    return str(getattr(e, "strerror", None) or e) or type(e).__name__


def parse_json(
    endpoint: Endpoint, raw: bytes, status: int, *, fresh: bool = True
) -> dict[str, Any]:
    """The first JSON object of a reply; anything else means the endpoint is not etcd.

    `fresh`: the reply came on a connection's first exchange, so a reply that is not
    etcd's proves etcd never saw the request (`unsent`).
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        # A stream's first message followed by more, or not JSON at all.
        try:
            data, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8", "replace").strip())
        except (ValueError, RecursionError):
            data = None
    if not isinstance(data, dict):
        raise Unreachable(
            endpoint, f"answered HTTP {status} without etcd's JSON (not etcd?)", unsent=fresh
        )
    return data
