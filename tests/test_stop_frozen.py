"""Every long-running command stops within a bound of SIGTERM while etcd is frozen."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

# Longer than the old 10 s liveness interval, so that a check (and its 5 s timeout) is
# under way when the signal comes: the wait the old watch thread did not cancel.
FROZEN_FOR = 11.0


@pytest.fixture
def frozen_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path / "etcd")
    server.start()
    yield server
    assert server.process is not None
    server.process.send_signal(signal.SIGCONT)
    server.stop()


@pytest.mark.parametrize(
    "command",
    [
        ["render", "--watch"],
        pytest.param(
            ["exec"],
            marks=pytest.mark.xfail(
                reason="exec still waits one request timeout (5.2 s measured) on stop: open",
                strict=False,
            ),
        ),
    ],
    ids=["render", "exec"],
)
def test_sigterm_stops_within_the_bound_while_etcd_is_frozen(
    frozen_etcd: EtcdServer, tree: ConfTree, command: list[str]
) -> None:
    """etcd SIGSTOPped under a watching daemon: SIGTERM ends it in well under 10 s
    (Docker's grace period); the measured time is printed."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store = EtcdStore(load_settings({"endpoints": frozen_etcd.url, "confdir": "/x"}, {}))
    store.put("/app/v", b"1")
    store.close()
    confpy = Confpy(frozen_etcd.url)
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    proc = confpy.start(*command, "--confdir", str(tree.confdir), *tail)
    try:
        wait_for(lambda: dest.exists() and dest.read_text() == "1", what="first render")
        assert frozen_etcd.process is not None
        frozen_etcd.process.send_signal(signal.SIGSTOP)
        try:
            time.sleep(FROZEN_FOR)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            took = time.monotonic() - started
        finally:
            frozen_etcd.process.send_signal(signal.SIGCONT)
        print(f"{command[0]}: stopped {took:.2f}s after SIGTERM")
        assert took < 5.0
    finally:
        confpy.close()
