"""Stand-ins for the scenario's services, small enough to run in the demo and the tests.

    python -m confpy.demo.services logstash PORT CERT KEY LOG
        a TLS server that loads its certificate and key from files at every connection
        (so it serves a rotated pair at once) and answers each client with "ok"
    python -m confpy.demo.services forwarder CONFIG LOG
        reads logstash-forwarder's JSON config, connects to the first server over TLS with
        the configured certificate, key and CA; connects again on SIGHUP
    python -m confpy.demo.services sleeper
        stands for Elasticsearch: runs until SIGTERM

Each writes one line per event to LOG. Nothing here is used by confpy itself.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import ssl
import sys
import time
from pathlib import Path


def _log(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text + "\n")


def fingerprint(der: bytes | None) -> str:
    return hashlib.sha256(der or b"").hexdigest()[:16]


def logstash(port: int, cert: str, key: str, log: str) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    _log(log, f"listening on 127.0.0.1:{port}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = listener.accept()
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok\n")
                _log(log, f"served {fingerprint(tls.getpeercert(binary_form=True))}")
        except (OSError, ssl.SSLError) as e:
            _log(log, f"handshake failed: {e}")


def forwarder(config_path: str, log: str) -> None:
    from confpy.wakeup import Wakeup

    # A Wakeup, not an Event set from the handler: that could deadlock in Event.clear().
    with Wakeup([signal.SIGHUP]) as wakeup:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        _log(log, "started")
        while True:
            _connect(config_path, log)
            while signal.SIGHUP not in wakeup.wait(None):
                pass
            _log(log, "reload (SIGHUP)")


def _connect(config_path: str, log: str) -> None:
    config = json.loads(Path(config_path).read_text())
    network = config["network"]
    host, _, port = network["servers"][0].rpartition(":")
    context = ssl.create_default_context(cafile=network["ssl ca"])
    context.load_cert_chain(network["ssl certificate"], network["ssl key"])
    for _ in range(50):
        try:
            with (
                socket.create_connection((host, int(port)), timeout=network["timeout"]) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                reply = tls.recv(16).decode().strip()
                peer = fingerprint(tls.getpeercert(binary_form=True))
                _log(
                    log,
                    f"handshake ok with {host}:{port}, server certificate {peer}, reply {reply}",
                )
                return
        except ConnectionRefusedError:
            time.sleep(0.1)
        except (OSError, ssl.SSLError) as e:
            _log(log, f"handshake failed: {e}")
            return
    _log(log, f"handshake failed: nothing listens on {host}:{port}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["logstash"]:
        logstash(int(argv[1]), argv[2], argv[3], argv[4])
    elif argv[:1] == ["forwarder"]:
        forwarder(argv[1], argv[2])
    elif argv[:1] == ["sleeper"]:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(3600)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
