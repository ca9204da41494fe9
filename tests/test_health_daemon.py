"""/healthz tells the truth about a running daemon: refused SIGHUP, lag, a silent etcd."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence

import pytest

from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, healthz, read
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


def test_a_refused_sighup_configuration_makes_healthz_503_until_one_is_accepted(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """The old configuration keeps running, but /healthz says the new one was refused."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    port = free_port()
    watchers.append(w := Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}"))
    wait_for(lambda: read(dest) == "1" and healthz(port)[0] == 200, what="healthy")
    broken = tree.resource("broken", "[template\n")
    w.proc.send_signal(signal.SIGHUP)
    _, health = wait_for(
        lambda: (r := healthz(port))[0] == 503 and r,  # type: ignore[misc]
        what="503 after the refusal",
    )
    assert "broken.toml" in str(health["config_error"])
    assert health["reasons"] == ["last configuration reload (SIGHUP) refused"]
    broken.unlink()
    w.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: healthz(port)[0] == 200, what="200 once a configuration is accepted")


def test_a_change_stuck_behind_a_slow_reload_makes_healthz_503_past_max_lag(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """The loop is busy in a reload for longer than --max-lag while etcd moves on."""
    gate = tree.root / "gate"
    dest = tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        extra=f"reload_cmd = \"sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done'\"\n"
        'command_timeout = "60s"\n',
    )
    store.put("/app/v", b"1")
    gate.touch()
    port = free_port()
    watchers.append(
        Watcher(
            confpy,
            tree,
            "--health-addr",
            f"127.0.0.1:{port}",
            "--max-lag",
            "0.5s",
            "--min-reload-interval",
            "0",
        )
    )
    wait_for(lambda: read(dest) == "1" and healthz(port)[0] == 200, what="healthy")
    gate.unlink()
    store.put("/app/v", b"2")
    wait_for(lambda: read(dest) == "2", what="the install before the hanging reload")
    store.put("/app/v", b"3")
    _, health = wait_for(
        lambda: (r := healthz(port))[0] == 503 and r,  # type: ignore[misc]
        what="503 while behind",
    )
    assert any(r.startswith("behind etcd for") for r in health["reasons"])  # type: ignore[union-attr]
    gate.touch()
    wait_for(lambda: read(dest) == "3" and healthz(port)[0] == 200, what="caught up again")


def test_an_etcd_that_falls_silent_makes_healthz_503(tree: ConfTree) -> None:
    """A watch that stops yielding, even progress notifications, is noticed."""
    from confpy.apply.runner import load_config
    from confpy.store.snapshot import WatchBatch
    from confpy.testing.memory import MemoryStore
    from confpy.watch.daemon import Daemon
    from confpy.watch.options import WatchOptions

    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    resume = threading.Event()

    class SilentStore(MemoryStore):
        progress_interval = 0.5

        def watch(
            self, patterns: Sequence[str], start_revision: int, stop: threading.Event
        ) -> Iterator[WatchBatch]:
            yield WatchBatch(start_revision - 1, ())
            while not stop.is_set():
                if resume.wait(0.05):
                    yield WatchBatch(self.revision, ())

    daemon = Daemon(
        load_config(tree.confdir), SilentStore({"/app/v": "1"}), WatchOptions(max_lag=0.5)
    )
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: daemon.status.health()["healthy"], what="healthy")
        health = wait_for(lambda: (h := daemon.status.health())["reasons"] and h, what="silence")
        assert health["reasons"][0].startswith("nothing heard from etcd for")  # type: ignore[index]
        resume.set()
        wait_for(lambda: daemon.status.health()["healthy"], what="healthy once etcd speaks")
    finally:
        daemon.stop()
        thread.join(timeout=20)
