"""A real TLS handshake on loopback, for tests of the keypairs confpy issues."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path


def handshake(
    tmp_path: Path,
    chain_pem: bytes,
    key_pem: bytes,
    trust_pem: bytes,
    server_hostname: str,
    *,
    strict: bool = False,
) -> str:
    """A real TLS handshake on loopback: the server serves chain+key, the client trusts only
    `trust_pem` and checks the hostname. Returns the cipher name; raises SSLError on failure."""
    cert_file = tmp_path / "server.crt"
    key_file = tmp_path / "server.key"
    cert_file.write_bytes(chain_pem)
    key_file.write_bytes(key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(cadata=trust_pem.decode())
    client_ctx.check_hostname = True
    if strict:
        client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        server_error: list[BaseException] = []

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(b"ok")
            except (ssl.SSLError, OSError) as e:
                server_error.append(e)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client_ctx.wrap_socket(raw, server_hostname=server_hostname) as s,
            ):
                assert s.recv(2) == b"ok"
                cipher = s.cipher()
                return cipher[0] if cipher else ""
        finally:
            thread.join(10)
