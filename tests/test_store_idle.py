"""An idle watch costs etcd next to nothing: no request that grows with the watched keys."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.store.snapshot import WatchBatch
from confpy.testing.etcd import EtcdServer
from tests.conftest import Confpy, wait_for
from tests.etcd_admin import current_revision
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd

_REQUEST = re.compile(rb"POST (/v3/[a-z/_]+) HTTP/1\.1\r\n")


class CountingProxy:
    """A TCP proxy to etcd that records the path of every request passing through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[tuple[float, str]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if count:
                    now = time.monotonic()
                    self.requests += [(now, m.decode()) for m in _REQUEST.findall(data)]
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        src.close()

    def since(self, start: float) -> list[str]:
        return [path for at, path in list(self.requests) if at >= start]

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(etcd_server: EtcdServer, etcd: str) -> Iterator[CountingProxy]:
    p = CountingProxy(etcd_server.client_port)
    yield p
    p.close()


def test_a_quiet_watch_sends_only_status_checks(proxy: CountingProxy, store: EtcdStore) -> None:
    """Checks every 0.3 s over 3 s of silence: each is one Status call (whose cost does not
    depend on the watched keys), never a range read or a new watch stream."""
    for i in range(200):
        store.put(f"/quiet/k{i}", b"v")
    watching = EtcdStore(load_settings({"endpoints": proxy.url, "confdir": "/x"}, {}))
    watching.progress_interval = 0.3
    stop = threading.Event()
    batches: list[WatchBatch] = []
    thread = threading.Thread(
        target=lambda: batches.extend(
            watching.watch(["/quiet"], current_revision(store) + 1, stop)
        ),
        daemon=True,
    )
    thread.start()
    try:
        wait_for(lambda: batches, what="the created batch")
        start = time.monotonic()
        wait_for(lambda: time.monotonic() - start > 3.0 and len(batches) > 5, what="checks")
        sent = proxy.since(start)
    finally:
        stop.set()
        thread.join(timeout=5)
        watching.close()
    assert sent, "no liveness check at all"
    assert set(sent) == {"/v3/maintenance/status"}
    assert len(sent) <= 3.0 / 0.3 + 2


@pytest.mark.slow
def test_an_idle_daemon_sends_etcd_nothing_for_a_quarter_minute(
    proxy: CountingProxy, store: EtcdStore, tree: ConfTree
) -> None:
    """`render --watch` idle for 15 s after its start sends etcd no request at all (its
    first liveness check is due after 60 s); before, it read every watched range and
    opened a new stream every 10 s."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    confpy = Confpy(proxy.url)
    proc = confpy.start("render", "--watch", "--confdir", str(tree.confdir))
    try:
        wait_for(lambda: dest.exists() and dest.read_text() == "1", what="first render")
        wait_for(lambda: "/v3/watch" in proxy.since(0), what="the watch stream")
        start = time.monotonic()
        wait_for(lambda: time.monotonic() - start > 15 or proc.poll() is not None, timeout=20)
        sent = proxy.since(start)
        assert proc.poll() is None
    finally:
        confpy.close()
    assert sent == []
