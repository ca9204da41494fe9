"""`reload_url`: a real HTTP request on loopback after install; failure is a failed reload."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from confpy.apply.reload_http import send, shown
from confpy.errors import CommandError
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A loopback HTTP server whose answer per path is chosen by the test."""

    url: str
    requests: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[Server]:
    holder: dict[str, Server] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def answer(self) -> None:
            s = holder["s"]
            length = int(self.headers.get("Content-Length") or 0)
            s.requests.append(
                Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
            )
            route = self.path.split("?")[0]
            if route == "/hang":
                s.release.wait(30)
                return
            status = {"/ok": 200, "/accepted": 202, "/fail": 500, "/moved": 302}[route]
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = answer

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    holder["s"] = s = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield s
    s.release.set()
    httpd.shutdown()
    httpd.server_close()


def app(tree: ConfTree, url: str, extra: str = "") -> Path:
    return tree.simple(
        "app", "v={{ getv('/app/v') }}\n", ["/app"], f'reload_url = "{url}"\n{extra}'
    )


def render(confpy: Confpy, tree: ConfTree) -> subprocess.CompletedProcess[str]:
    return confpy.run("render", "--onetime", "--confdir", str(tree.confdir))


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    [line] = [x for x in stderr.splitlines() if x.startswith("confpy: error:")]
    return line


def test_install_sends_one_post_without_any_value(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """A 2xx answer is success; the request is a bodiless POST with nothing from etcd in it."""
    dest = app(tree, f"{server.url}/ok")
    store.put("/app/v", b"SECRET-VALUE")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "v=SECRET-VALUE\n"
    [seen] = server.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/ok", b"")
    assert "SECRET" not in repr(seen.headers)


def test_unchanged_file_sends_nothing(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """Like reload_cmd, the request follows an install only."""
    app(tree, f"{server.url}/ok")
    store.put("/app/v", b"1")
    assert render(confpy, tree).returncode == 0
    assert render(confpy, tree).returncode == 0
    assert len(server.requests) == 1


def test_reload_method_is_used(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """reload_method = "PUT" sends a PUT; any 2xx (here 202) is success."""
    app(tree, f"{server.url}/accepted", 'reload_method = "put"')
    store.put("/app/v", b"1")
    assert render(confpy, tree).returncode == 0
    assert [r.method for r in server.requests] == ["PUT"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/fail", "answered 500 Internal Server Error"),
        ("/moved", "answered 302 Found (redirects are not followed)"),
    ],
)
def test_non_2xx_is_a_failed_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server, path: str, message: str
) -> None:
    """Exit 1 at the reload step; the redirect is not followed; the file stays installed."""
    dest = app(tree, f"{server.url}{path}")
    store.put("/app/v", b"1")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert f"reload_url POST {server.url}{path}: {message}" in error_line(result.stderr)
    assert [r.path for r in server.requests] == [path]
    assert dest.exists()


def test_a_server_that_never_answers_fails_within_command_timeout(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """The timeout bounds the whole request: exit 1 with 'no answer within 1s'."""
    app(tree, f"{server.url}/hang", 'command_timeout = "1s"')
    store.put("/app/v", b"1")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "no answer within 1s" in error_line(result.stderr)


def test_a_server_that_is_down_is_a_failed_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Connection refused: exit 1, said in one line."""
    app(tree, f"http://127.0.0.1:{free_port()}/reload")
    store.put("/app/v", b"1")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "connection refused" in error_line(result.stderr)


def test_credentials_in_the_url_are_sent_but_never_shown(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """User info becomes Basic auth; neither it nor the query string appears in messages or logs."""
    url = server.url.replace("http://", "http://admin:hunter2@") + "/fail?token=tok3n"
    app(tree, url)
    store.put("/app/v", b"1")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert (
        "hunter2" not in result.stderr
        and "tok3n" not in result.stderr
        and "admin" not in result.stderr
    )
    [seen] = server.requests
    assert seen.headers["Authorization"] == "Basic YWRtaW46aHVudGVyMg=="
    assert seen.path == "/fail?token=tok3n"


def test_template_braces_in_the_url_are_refused(confpy: Confpy, tree: ConfTree) -> None:
    """No value may reach the request through the URL: exit 2 naming file, line and field."""
    app(tree, "http://127.0.0.1:1/{{ getv('/app/v') }}")
    result = render(confpy, tree)
    assert result.returncode == 2
    assert "app.toml:5: reload_url: must not contain {{ }}" in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "must be an http:// or https:// URL with a host"),
        ("http:///path", "must be an http:// or https:// URL with a host"),
        ("http://host:99999/", "not a URL"),
    ],
)
def test_bad_urls_are_refused_at_load(
    confpy: Confpy, tree: ConfTree, url: str, message: str
) -> None:
    app(tree, url)
    result = render(confpy, tree)
    assert result.returncode == 2 and message in result.stderr


def test_one_request_per_change_set_for_files_sharing_the_url(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """Two files with the same reload_url: one request after both are installed."""
    for name in ("a", "b"):
        tree.simple(
            name, f"{{{{ getv('/app/{name}') }}}}", ["/app"], f'reload_url = "{server.url}/ok"\n'
        )
        store.put(f"/app/{name}", b"1")
    assert render(confpy, tree).returncode == 0
    assert len(server.requests) == 1


def test_failed_request_is_retried_by_the_daemon(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, server: Server
) -> None:
    """--watch: a reload that failed is owed, and requested again without a new change."""
    app(tree, f"{server.url}/fail")
    store.put("/app/v", b"1")
    proc = confpy.start("render", "--watch", "--confdir", str(tree.confdir))
    try:
        wait_for(lambda: len(server.requests) >= 2, timeout=30, what="a retried request")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_message_shows_url_without_user_info_or_query() -> None:
    assert shown("https://u:p@example.com:8443/a/b?x=1#f") == "https://example.com:8443/a/b"


def test_send_raises_command_error_on_refusal() -> None:
    with pytest.raises(CommandError, match="connection refused"):
        send(f"http://127.0.0.1:{free_port()}/", "POST", 2.0)
