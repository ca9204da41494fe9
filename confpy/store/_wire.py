"""HTTP/1.1 on a socket, as much as etcd's gateway needs: one request, its reply, a chunked stream.

Why not `http.client`: it imports `ssl` at import time (an `http://` cluster needs no TLS
module), and a watch needs reads with a deadline that leave the stream usable when the
deadline passes, which its buffered reader does not allow.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from confpy.settings import Endpoint

if TYPE_CHECKING:
    import ssl

_MAX_HEAD = 64 * 1024


class Unreachable(Exception):
    """The endpoint did not answer as etcd: refused, reset, timed out, or not etcd at all.

    `unsent` is true when etcd cannot have acted on the request (no connection, or the
    reply came from something else), so another endpoint may be asked at once.
    """

    def __init__(
        self, endpoint: Endpoint, reason: str, *, unsent: bool, others: Sequence[Unreachable] = ()
    ) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.unsent = unsent
        super().__init__("; ".join(f"{e.endpoint}: {e.reason}" for e in (*others, self)))


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
        # Never 0, which would make the socket non-blocking (BlockingIOError, not a timeout).
        self.sock.settimeout(None if timeout is None else max(timeout, 0.001))
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
            raise Unreachable(
                self.endpoint, str(e) or type(e).__name__, unsent=isinstance(e, ValueError)
            ) from e
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
                while chunk := self.next_chunk(max(0.001, deadline - time.monotonic())):
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


def parse_json(endpoint: Endpoint, raw: bytes, status: int) -> dict[str, Any]:
    """The first JSON object of a reply; anything else means the endpoint is not etcd."""
    try:
        data = json.loads(raw)
    except ValueError:
        # A stream's first message followed by more, or not JSON at all.
        try:
            data, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8", "replace").strip())
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise Unreachable(
            endpoint, f"answered HTTP {status} without etcd's JSON (not etcd?)", unsent=True
        )
    return data
