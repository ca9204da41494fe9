"""A lying etcd for the HTTP client's tests: a socket server on 127.0.0.1 that runs a script.

Each accepted connection is handed to `script(conn, requests)`, which reads requests with
`read_request` and answers whatever bytes it likes, at whatever pace: drips, floods,
interim replies, short lengths, garbage, a close in the middle.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

Script = Callable[[socket.socket, "FakeEtcd"], None]


class FakeEtcd:
    """Serves `script` on every connection; records each request's path and body."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self.script(conn, self)

    def read_request(self, conn: socket.socket) -> tuple[str, dict[str, Any]] | None:
        """One request's path and JSON body; None when the client closed."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(body) < length:
            data = conn.recv(65536)
            if not data:
                return None
            body += data
        path = lines[0].split(" ")[1]
        request = (path, json.loads(body or b"{}"))
        self.requests.append(request)
        return request

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def reply(data: dict[str, Any], *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    """A whole HTTP reply with a correct Content-Length (and `extra` bytes after it)."""
    body = json.dumps(data).encode()
    return (
        (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        + extra
    )


def range_reply(key: str, value: bytes, revision: int = 5) -> dict[str, Any]:
    """etcd's answer to a one-key /v3/kv/range."""
    return {
        "header": {"cluster_id": "1", "member_id": "2", "revision": str(revision)},
        "kvs": [
            {
                "key": base64.b64encode(key.encode()).decode(),
                "value": base64.b64encode(value).decode(),
                "mod_revision": str(revision),
            }
        ],
        "count": "1",
    }


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)
