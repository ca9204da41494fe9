"""Every long-running command stops within a bound of SIGTERM while etcd is frozen."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

# Just past the old 10 s liveness interval, so that a check (and its 5 s timeout) is
# under way when the signal comes: the wait the old watch thread did not cancel.
FROZEN_FOR = 10.5
BOUND = 3.0
"""Seconds from SIGTERM to exit: the issue asks for 2 s; a margin for a loaded machine,
still under the old 4-5 s."""


def sigterm_while_frozen(
    server: EtcdServer, proc: subprocess.Popen[str], frozen_for: float
) -> float:
    """Freeze etcd (SIGSTOP) for `frozen_for` seconds, then SIGTERM `proc`: seconds until it
    exited. etcd is thawed whatever happens."""
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    try:
        time.sleep(frozen_for)  # the freeze itself is what is tested, not a wait for state
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        return time.monotonic() - started
    finally:
        server.process.send_signal(signal.SIGCONT)


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
    [["render", "--watch"], ["exec"]],
    ids=["render", "exec"],
)
def test_sigterm_stops_within_the_bound_while_etcd_is_frozen(
    frozen_etcd: EtcdServer, tree: ConfTree, command: list[str]
) -> None:
    """etcd SIGSTOPped under a watching daemon: SIGTERM ends it within BOUND, far from
    Docker's 10 s grace period; the measured time is printed."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store = EtcdStore(load_settings({"endpoints": frozen_etcd.url, "confdir": "/x"}, {}))
    store.put("/app/v", b"1")
    store.close()
    confpy = Confpy(frozen_etcd.url)
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    proc = confpy.start(*command, "--confdir", str(tree.confdir), *tail)
    try:
        wait_for(lambda: dest.exists() and dest.read_text() == "1", what="first render")
        took = sigterm_while_frozen(frozen_etcd, proc, FROZEN_FOR)
        print(f"{command[0]}: stopped {took:.2f}s after SIGTERM")
        assert took < BOUND
    finally:
        confpy.close()


def test_stopping_ends_the_loops_own_read_in_flight(tree: ConfTree) -> None:
    """The daemon's loop is inside a read that etcd never answers (as `exec`'s daemon
    thread is at its start): `stop()` ends it at once, not after the request timeout."""
    import socket as socket_module

    from confpy.apply.runner import load_config
    from confpy.watch.daemon import Daemon
    from tests.fake_etcd import FakeEtcd

    def never_answer(conn: socket_module.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        time.sleep(30)

    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    fake = FakeEtcd(never_answer)
    store = EtcdStore(load_settings({"endpoints": fake.url, "confdir": "/x"}, {}), timeout=20)
    daemon = Daemon(load_config(tree.confdir), store)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: fake.requests, what="the snapshot read")
        started = time.monotonic()
        daemon.stop()
        thread.join(timeout=20)
        took = time.monotonic() - started
    finally:
        fake.close()
    assert not thread.is_alive()
    assert took < 2.0


@pytest.mark.parametrize("command", [["render", "--watch"], ["exec"]], ids=["render", "exec"])
def test_sigterm_during_the_first_read_stops_at_once(tree: ConfTree, command: list[str]) -> None:
    """etcd accepts the connection and never answers the very first read: SIGTERM still
    ends the command within BOUND (the read is cancelled, not waited out)."""
    import socket as socket_module

    from tests.fake_etcd import FakeEtcd

    def never_answer(conn: socket_module.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        time.sleep(30)

    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    fake = FakeEtcd(never_answer)
    confpy = Confpy(fake.url)
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    proc = confpy.start(*command, "--confdir", str(tree.confdir), *tail)
    try:
        wait_for(lambda: fake.requests, what="the first read")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        confpy.close()
        fake.close()
    print(f"{command[0]}: stopped {took:.2f}s after SIGTERM")
    assert took < BOUND


def test_register_stops_within_the_bound_while_etcd_is_frozen(
    frozen_etcd: EtcdServer, tmp_path: Path
) -> None:
    """`confpy register` with a keep-alive under way when etcd froze: SIGTERM ends it
    within BOUND (the revoke is tried briefly; the lease's TTL removes the key anyway)."""
    store = EtcdStore(load_settings({"endpoints": frozen_etcd.url, "confdir": "/x"}, {}))
    confpy = Confpy(frozen_etcd.url)
    proc = confpy.start("register", "--ttl", "3", "/svc/frozen", "here")
    try:
        wait_for(lambda: store.get("/svc/frozen")[0] == b"here", what="the registration")
        store.close()
        # Past a refresh (every ttl/3 = 1 s): one is in flight when SIGTERM comes.
        took = sigterm_while_frozen(frozen_etcd, proc, 2.5)
        print(f"register: stopped {took:.2f}s after SIGTERM")
        assert took < BOUND
    finally:
        confpy.close()
