"""`reload_url`: announce a new file to a process over HTTP (a sidecar cannot signal it).

One request, no body, no redirect followed; success is a 2xx status within the
resource's `command_timeout`, which bounds the whole exchange (connect, send, answer),
not each socket operation. Nothing read from etcd is ever in the request. Messages show
the URL without its user info and query string, which may hold credentials.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
from urllib.parse import unquote, urlsplit

from confpy.errors import CommandError

USER_AGENT = "confpy-reload"
_BODY_LIMIT = 64 * 1024


def shown(url: str) -> str:
    """The URL as messages show it: scheme, host, port and path only."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def send(url: str, method: str, timeout: float) -> int:
    """Send the request; return the status, or raise CommandError naming the failure."""
    what = f"{method} {shown(url)}"
    result: dict[str, object] = {}
    parts = urlsplit(url)
    conn_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_class(parts.hostname or "", parts.port, timeout=timeout)

    def exchange() -> None:
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"User-Agent": USER_AGENT, "Content-Length": "0", "Connection": "close"}
            if parts.username is not None:
                pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            conn.request(method, target, headers=headers)
            response = conn.getresponse()
            response.read(_BODY_LIMIT)
            result["status"], result["reason"] = response.status, response.reason
        except BaseException as e:  # handed to the caller's thread below
            result["error"] = e

    worker = threading.Thread(target=exchange, name="confpy-reload-url", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _abort(conn)
        worker.join(1.0)
        raise CommandError(f"reload_url {what}: no answer within {timeout:g}s", command=what)
    conn.close()
    error = result.get("error")
    if isinstance(error, BaseException):
        raise CommandError(f"reload_url {what}: {_describe(error, timeout)}", command=what)
    status = result["status"]
    assert isinstance(status, int)  # exchange() sets either "error" or "status"
    if 200 <= status < 300:
        return status
    hint = " (redirects are not followed)" if 300 <= status < 400 else ""
    raise CommandError(
        f"reload_url {what}: answered {status} {result.get('reason') or ''}".rstrip() + hint,
        command=what,
        status=status,
    )


def _abort(conn: http.client.HTTPConnection) -> None:
    """Unblock a worker stuck in connect/recv: shut the socket down under it."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def _describe(error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "cannot resolve the host"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or type(error).__name__}"
    if isinstance(error, http.client.HTTPException):
        return f"bad HTTP answer ({type(error).__name__})"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__
