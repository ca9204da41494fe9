"""Several endpoints: one that is down, or answers HTTP without being etcd, counts as failed."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


class _Html(http.server.BaseHTTPRequestHandler):
    """A web server that is not etcd: 200 and an HTML page for anything posted."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body>hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Default(http.server.BaseHTTPRequestHandler):
    """python's http.server as it comes: POST is answered 501 with an HTML error page."""

    def log_message(self, *args: object) -> None:
        pass


class _Json(_Html):
    """A JSON API that is not etcd: 200 and a JSON object without etcd's reply header."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[_Default, _Html, _Json], ids=["http.server-501", "html-200", "json-200"])
def not_etcd(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a real HTTP server on loopback that is not etcd."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback port that refuses connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_store_skips_an_http_server_that_is_not_etcd(not_etcd: str, etcd: str) -> None:
    """Each call goes on to the next endpoint when the first answers HTTP but not as etcd."""
    store = EtcdStore(
        load_settings({"endpoints": f"{not_etcd},{etcd}", "confdir": "/nonexistent"}, {})
    )
    try:
        revision = store.put("/failover/v", b"1")
        assert store.get("/failover/v") == (b"1", revision)
        assert store.snapshot(["/failover"]).values == {"/failover/v": b"1"}
        assert store.endpoint == etcd
    finally:
        store.close()


def test_onetime_render_succeeds_every_time_when_the_first_endpoint_is_not_etcd(
    confpy: Confpy, store: EtcdStore, not_etcd: str, etcd: str, tmp_path: Path
) -> None:
    """`render --onetime --endpoints http://A,http://B` with A any web server: every run
    renders from B."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"from-b")
    for _ in range(3):
        dest.unlink(missing_ok=True)
        result = confpy.run(
            "render",
            "--onetime",
            "--confdir",
            str(tree.confdir),
            "--endpoints",
            f"{not_etcd},{etcd}",
        )
        assert result.returncode == 0, result.stderr
        assert dest.read_text() == "from-b"


def test_wait_for_keys_reaches_the_second_endpoint(
    confpy: Confpy, store: EtcdStore, not_etcd: str, etcd: str, tmp_path: Path
) -> None:
    """`--wait-for-keys` keeps asking and finds the keys on B once they appear there."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    proc = confpy.start(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--endpoints",
        f"{not_etcd},{etcd}",
        "--wait-for-keys",
        "20s",
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "waiting for keys" in line:
                break
        store.put("/app/v", b"late")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert dest.read_text() == "late"


def test_refused_first_endpoint_fails_over(
    confpy: Confpy, store: EtcdStore, closed_port: str, etcd: str, tmp_path: Path
) -> None:
    """An endpoint that refuses connections is skipped within the same call."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    result = confpy.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--endpoints",
        f"{closed_port},{etcd}",
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "1"


def test_no_endpoint_answering_names_each_one(
    confpy: Confpy, not_etcd: str, tmp_path: Path
) -> None:
    """When no endpoint is etcd, the one-line error says what each one did; exit 3."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    refused = f"http://127.0.0.1:{free_port()}"
    result = confpy.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--endpoints",
        f"{not_etcd},{refused}",
    )
    assert result.returncode == 3
    assert not_etcd in result.stderr and refused in result.stderr
    assert "Traceback" not in result.stderr
