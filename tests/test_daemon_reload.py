"""Reloads are part of being in sync: retried until they succeed, bounded in a storm."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, healthz, read
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


def _words(path: Path) -> list[str]:
    """What the reload commands recorded so far (nothing before the first one ran)."""
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


def test_a_failed_reload_is_retried_until_it_succeeds(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """A reload command that fails twice runs again, with no further change in etcd,
    until it succeeds; meanwhile /healthz is 503 naming the reload, then 200."""
    runs = tree.root / "runs"
    script = tree.root / "reload.sh"
    script.write_text(f"#!/bin/sh\necho run >> {runs}\n[ $(wc -l < {runs}) -ge 3 ]\n")
    script.chmod(0o755)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"], extra=f'reload_cmd = "{script}"\n')
    store.put("/app/v", b"1")
    port = free_port()
    watchers.append(w := Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}"))
    wait_for(lambda: read(dest) == "1", what="first render")
    _, health = wait_for(
        lambda: (
            (r := healthz(port))[0] == 503  # type: ignore[misc]
            and r[1]["failing_reloads"] == ["app"]
            and r
        ),
        what="503 naming the failing reload",
    )
    assert health["reasons"] == ["reload failing for: app"]
    assert str(health["failing"]["app"]).startswith("reload: ")  # type: ignore[index]
    wait_for(lambda: healthz(port)[0] == 200, timeout=20, what="200 once the reload succeeded")
    assert runs.read_text().splitlines() == ["run", "run", "run"]
    recovered = w.events("recovered")
    assert recovered and recovered[0]["resource"] == "app"
    assert len(w.events("will retry")) == 2


def test_a_burst_of_1000_puts_reloads_at_most_10_times(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """Default settings: the file ends at the last value, the reload count stays bounded,
    and the last reload ran after the last value was installed."""
    seen = tree.root / "seen"
    dest = tree.simple(
        "app",
        "v={{ getv('/app/v') }}",
        ["/app"],
        extra=f'reload_cmd = "cat {tree.out}/app >> {seen}; echo >> {seen}"\n',
    )
    store.put("/app/v", b"start")
    watchers.append(Watcher(confpy, tree, "--log-level", "info"))
    wait_for(lambda: read(dest) == "v=start", what="first render")
    seen.write_text("")
    for i in range(1000):
        store.put("/app/v", str(i).encode())
    wait_for(lambda: read(dest) == "v=999", timeout=30, what="the last value")
    wait_for(
        lambda: _words(seen)[-1:] == ["v=999"], timeout=10, what="a reload that saw the last value"
    )
    reloads = _words(seen)
    assert len(reloads) <= 10, f"{len(reloads)} reloads for 1000 puts"


def test_min_reload_interval_0_reloads_on_every_change(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """--min-reload-interval 0 keeps confd's behaviour: one reload per rendered change."""
    seen = tree.root / "seen"
    dest = tree.simple(
        "app",
        "v={{ getv('/app/v') }}",
        ["/app"],
        extra=f'reload_cmd = "cat {tree.out}/app >> {seen}; echo >> {seen}"\n',
    )
    store.put("/app/v", b"0")
    watchers.append(Watcher(confpy, tree, "--min-reload-interval", "0"))
    wait_for(lambda: read(dest) == "v=0", what="first render")
    for i in range(1, 4):
        store.put("/app/v", str(i).encode())
        wait_for(lambda i=i: _words(seen)[-1:] == [f"v={i}"], what=f"reload {i}")
    assert _words(seen) == ["v=0", "v=1", "v=2", "v=3"]


def test_exec_signals_its_child_at_most_10_times_for_1000_puts(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
) -> None:
    """`exec`'s signal to the child is a reload too: bounded in a storm, and the last one
    comes after the last value is in the file."""
    import subprocess
    import sys
    import threading

    from tests.children import child_script, lines, pids_started

    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    log = tree.root / "child.log"
    store.put("/app/v", b"start")
    proc = confpy.start(
        "exec",
        "--confdir",
        str(tree.confdir),
        "--",
        sys.executable,
        str(child_script(tree)),
        str(log),
        str(dest),
    )
    # Read stderr as it comes: a full pipe would block confpy's next log line.
    reader = threading.Thread(target=proc.communicate, daemon=True)
    reader.start()
    try:
        wait_for(lambda: pids_started(log), what="the child to start")
        for i in range(1000):
            store.put("/app/v", str(i).encode())
        wait_for(
            lambda: lines(log)[-1:] == ["HUP v=999"],
            timeout=30,
            what="the child to be signalled after the last value",
        )
        hups = [x for x in lines(log) if x.startswith("HUP")]
        assert len(hups) <= 10, f"{len(hups)} signals for 1000 puts"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
