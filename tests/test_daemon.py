"""`confpy render --watch` against a real etcd: files follow etcd and no change is missed."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdCluster, EtcdServer, free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, read
from tests.etcd_admin import compact
from tests.helpers import ConfTree, signal_another_thread

pytestmark = pytest.mark.etcd


def test_a_put_reaches_the_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """After the first render, a change in etcd is written to the file."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "v=1", what="first render")
    store.put("/app/v", b"2")
    wait_for(lambda: read(dest) == "v=2", what="the change to reach the file")
    assert w.stop() == 0


def test_deleting_a_required_key_keeps_the_old_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """The failure is logged with resource and revision; the file stays until the key returns."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "v=1", what="first render")
    revision = store.delete("/app/v")
    wait_for(
        lambda: any(e.get("revision") == revision for e in w.events("resource failed")),
        what="the failure to be logged",
    )
    assert read(dest) == "v=1"
    store.put("/app/v", b"3")
    wait_for(lambda: read(dest) == "v=3", what="recovery once the key is back")


def test_burst_of_puts_ends_with_last_value_and_few_reloads(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """1000 puts: the file holds the last value; events during a render are coalesced."""
    reloads = tree.root / "reloads"
    dest = tree.simple(
        "app", "v={{ getv('/app/v') }}", ["/app"], extra=f'reload_cmd = "echo r >> {reloads}"\n'
    )
    store.put("/app/v", b"start")
    watchers.append(Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "v=start", what="first render")
    for i in range(1000):
        store.put("/app/v", str(i).encode())
    wait_for(lambda: read(dest) == "v=999", timeout=30, what="the last value")
    count = len(reloads.read_text().splitlines())
    assert count < 500, f"{count} reloads for 1000 puts"


def test_change_after_etcd_restart_reaches_the_file(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    etcd_server: EtcdServer,
    watchers: list[Watcher],
) -> None:
    """etcd killed with SIGKILL and restarted on its data: the daemon reconnects and resumes."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "v=1", what="first render")
    etcd_server.kill()
    try:
        wait_for(lambda: w.events("watch broken, reconnecting"), what="the daemon to notice")
    finally:
        etcd_server.start()
    wait_for(lambda: _put_ok(store, "/app/v", b"2"), what="etcd to accept writes again")
    wait_for(lambda: read(dest) == "v=2", timeout=20, what="the change after the restart")


def _put_ok(store: EtcdStore, key: str, value: bytes) -> bool:
    from confpy.errors import StoreError

    try:
        store.put(key, value)
        return True
    except StoreError:
        return False


def test_paused_daemon_catches_up_after_compaction_and_restart(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    etcd_server: EtcdServer,
    watchers: list[Watcher],
) -> None:
    """SIGSTOP, keys change, revision compacted, etcd restarts, SIGCONT: the file gets the latest value."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "v=1", what="first render")
    w.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(5):
            revision = store.put("/app/v", f"paused-{i}".encode())
        compact(store, revision)
        etcd_server.kill()
        etcd_server.start()
    finally:
        w.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: read(dest) == "v=paused-4", timeout=20, what="the latest value after SIGCONT")


def _connected_ports(pid: int) -> set[int]:
    """Remote ports of the TCP connections process `pid` holds (from /proc, no tools needed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[9] in inodes and parts[3] == "01":  # ESTABLISHED
                    ports.add(int(parts[2].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.slow
def test_changes_arrive_through_other_members_when_one_dies(
    confpy: Confpy, tree: ConfTree, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """Three members on loopback: kill the one the daemon uses; changes still arrive."""
    cluster = EtcdCluster.create(tmp_path / "cluster", 3)
    cluster.start()
    try:
        store = EtcdStore(load_settings({"endpoints": cluster.urls, "confdir": "/nonexistent"}, {}))
        dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
        store.put("/app/v", b"1")
        env = confpy.env(CONFPY_ENDPOINTS=",".join(cluster.urls))
        watchers.append(w := Watcher(confpy, tree, env=env))
        wait_for(lambda: read(dest) == "v=1", what="first render")
        ports = _connected_ports(w.proc.pid)
        used = [m for m in cluster.members if m.client_port in ports]
        assert used, "the daemon holds no connection to any member"
        for m in used:
            m.kill()
        survivors = [m.url for m in cluster.members if m.running]
        other = EtcdStore(load_settings({"endpoints": survivors, "confdir": "/nonexistent"}, {}))
        wait_for(
            lambda: _put_ok(other, "/app/v", b"2"), timeout=20, what="the cluster to accept writes"
        )
        wait_for(lambda: read(dest) == "v=2", timeout=20, what="the change through another member")
        other.close()
        store.close()
    finally:
        cluster.stop()


def test_rotated_pair_is_never_seen_mismatched_by_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """A certificate and its key rotated together 100 times: each reload sees a matching pair."""
    check = tree.root / "check-pair.sh"
    log = tree.root / "pairs"
    check.write_text(
        "#!/bin/sh\n"
        f"c=$(cat {tree.out}/cert); k=$(cat {tree.out}/key)\n"
        f'if [ "${{c#cert-}}" = "${{k#key-}}" ]; then echo ok >> {log}; else echo "mismatch $c $k" >> {log}; fi\n'
    )
    check.chmod(0o755)
    reload = f'reload_cmd = "{check}"\n'
    tree.simple("cert", "{{ getv('/tls/cert') }}", ["/tls/cert"], extra=reload)
    tree.simple("key", "{{ getv('/tls/key') }}", ["/tls/key"], extra=reload + 'mode = "0600"\n')
    store.put_atomic({"/tls/cert": b"cert-0", "/tls/key": b"key-0"}, {})
    watchers.append(Watcher(confpy, tree))
    wait_for(lambda: read(tree.out / "key") == "key-0", what="first render")
    for i in range(1, 101):
        store.put_atomic({"/tls/cert": f"cert-{i}".encode(), "/tls/key": f"key-{i}".encode()}, {})
    wait_for(
        lambda: read(tree.out / "cert") == "cert-100" and read(tree.out / "key") == "key-100",
        timeout=30,
        what="the last pair",
    )
    lines = log.read_text().splitlines()
    assert lines and all(line == "ok" for line in lines), [x for x in lines if x != "ok"][:5]


@pytest.mark.parametrize(
    "deliver", [os.kill, signal_another_thread], ids=["to-the-process", "to-a-non-main-thread"]
)
def test_sighup_starts_rendering_a_new_resource(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
    deliver: Callable[[int, int], object],
) -> None:
    """A resource file added before SIGHUP is picked up without a restart, whichever
    thread receives the signal."""
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    store.put("/new/v", b"fresh")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(tree.out / "app") == "1", what="first render")
    new = tree.simple("new", "{{ getv('/new/v') }}", ["/new"])
    deliver(w.proc.pid, signal.SIGHUP)
    wait_for(lambda: read(new) == "fresh", what="the new resource")
    store.put("/new/v", b"watched")
    wait_for(lambda: read(new) == "watched", what="the new resource's keys to be watched")


def test_sighup_with_broken_configuration_keeps_the_old_one(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """An invalid new configuration is refused with a clear error; the old set keeps running."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "1", what="first render")
    tree.resource("broken", "[template\n")
    w.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: w.events("new configuration refused, keeping the running one"), what="the refusal"
    )
    store.put("/app/v", b"2")
    wait_for(lambda: read(dest) == "2", what="the old configuration to keep working")


def test_failing_resource_is_retried_without_a_new_change(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """A check that fails at first succeeds on a later retry, with no further change in etcd."""
    gate = tree.root / "gate"
    dest = tree.simple(
        "app", "{{ getv('/app/v') }}", ["/app"], extra=f'check_cmd = "test -e {gate}"\n'
    )
    other = tree.simple("other", "{{ getv('/other') }}", ["/other"])
    store.put("/app/v", b"1")
    store.put("/other", b"a")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: w.events("will retry"), what="the first failure")
    assert read(dest) is None
    store.put("/other", b"b")
    wait_for(lambda: read(other) == "b", what="other resources to keep being served")
    gate.touch()
    wait_for(lambda: read(dest) == "1", timeout=20, what="the retry to succeed")


def test_starts_before_etcd_and_renders_once_it_answers(
    confpy: Confpy, tree: ConfTree, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """etcd unreachable at start: keep retrying; files on disk stay until it answers."""
    server = EtcdServer(tmp_path / "late" / "data")
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    dest.write_text("on disk")
    watchers.append(w := Watcher(confpy, tree, env=confpy.env(CONFPY_ENDPOINTS=server.url)))
    wait_for(lambda: w.events("waiting for etcd"), what="the daemon to wait")
    assert read(dest) == "on disk"
    server.start()
    try:
        late = EtcdStore(load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}))
        late.put("/app/v", b"late")
        wait_for(lambda: read(dest) == "late", timeout=20, what="the render once etcd answers")
        late.close()
    finally:
        w.stop()
        server.stop()


def test_health_and_metrics_endpoints(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """/healthz answers 200 with state when in sync, 503 when a resource fails; /metrics is Prometheus text."""
    port = free_port()
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}"))
    wait_for(lambda: read(dest) == "1", what="first render")

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    code, body = wait_for(lambda: (r := get("/healthz"))[0] == 200 and r, what="healthy")  # type: ignore[misc]
    health = json.loads(body)
    assert health["connected"] and health["revision"] > 0 and health["failing"] == {}
    store.delete("/app/v")
    code, body = wait_for(
        lambda: (r := get("/healthz"))[0] == 503 and '"app"' in r[1] and r, what="unhealthy"
    )  # type: ignore[misc]
    assert "key not found: /app/v" in json.loads(body)["failing"]["app"]
    code, metrics = get("/metrics")
    assert code == 200
    assert "confpy_renders_total" in metrics and "confpy_change_to_file_seconds_bucket" in metrics


def test_ready_is_sent_to_systemd_after_the_first_render(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """With NOTIFY_SOCKET (Type=notify), READY=1 comes after the files are written."""
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(20)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(
        Watcher(confpy, tree, env=confpy.env(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="200000"))
    )
    messages = []
    while not any("READY=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    assert read(dest) == "1"
    while not any("WATCHDOG=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    sock.close()


def test_interval_mode_polls(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """--interval re-reads etcd periodically instead of watching (confd's mode)."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    proc = confpy.start("render", "--interval", "0.2", "--confdir", str(tree.confdir))
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
        store.put("/app/v", b"2")
        wait_for(lambda: read(dest) == "2", what="the next poll")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        proc.communicate()


def test_sigterm_stops_cleanly_with_exit_0(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """SIGTERM ends the daemon with exit 0 and no stage file left behind."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "1", what="first render")
    assert w.stop() == 0
    assert sorted(p.name for p in tree.out.iterdir()) == ["app"]
    assert not any("Traceback" in line for line in w.stderr)


def test_sigterm_received_by_another_thread_still_stops_the_daemon(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """The kernel may hand SIGTERM to a gRPC thread; the daemon must stop all the same."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    watchers.append(w := Watcher(confpy, tree))
    wait_for(lambda: read(dest) == "1", what="first render")
    signal_another_thread(w.proc.pid, signal.SIGTERM)
    wait_for(lambda: w.proc.poll() is not None, timeout=15, what="confpy to exit")
    assert w.proc.returncode == 0


def test_sigterm_received_by_another_thread_stops_interval_mode(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """The polling loop answers SIGTERM at once too, whichever thread receives it (the
    health server's thread here: the store itself starts none)."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    proc = confpy.start(
        "render",
        "--interval",
        "1h",
        "--confdir",
        str(tree.confdir),
        "--health-addr",
        f"127.0.0.1:{free_port()}",
    )
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
        signal_another_thread(proc.pid, signal.SIGTERM)
        wait_for(lambda: proc.poll() is not None, timeout=15, what="confpy to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0


def test_an_event_arriving_after_a_newer_one_from_another_range_is_still_applied(
    tree: ConfTree,
) -> None:
    """With one watch per range, revision 4 of /b may come after revision 5 of /a."""
    from confpy.apply.runner import load_config
    from confpy.store.snapshot import Event, WatchBatch
    from confpy.testing.memory import MemoryStore
    from confpy.watch.daemon import Daemon

    tree.simple("a", "{{ getv('/a') }}", ["/a"])
    tree.simple("b", "{{ getv('/b') }}", ["/b"])

    class OutOfOrderStore(MemoryStore):
        def watch(self, patterns, start_revision, stop):  # type: ignore[no-untyped-def]
            yield WatchBatch(start_revision - 1, ())
            yield WatchBatch(5, (Event("/a", b"a5", 5),))
            yield WatchBatch(4, (Event("/b", b"b4", 4),))
            stop.wait()

    daemon = Daemon(load_config(tree.confdir), OutOfOrderStore({"/a": "a1", "/b": "b1"}))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: read(tree.out / "a") == "a5", what="the newer event")
        wait_for(lambda: read(tree.out / "b") == "b4", what="the older event from the other range")
    finally:
        daemon.stop()
        thread.join(timeout=20)


def test_one_watch_stream_for_all_resources(tree: ConfTree, store: EtcdStore, etcd: str) -> None:
    """All resources' keys are merged into a single watch."""
    from confpy.apply.runner import load_config
    from confpy.watch.daemon import Daemon

    for i in range(20):
        tree.simple(f"r{i}", f"{{{{ getv('/svc/{i}', '') }}}}", [f"/svc/{i}", "/shared"])
    config = load_config(tree.confdir)
    calls: list[list[str]] = []

    class CountingStore(EtcdStore):
        def watch(self, patterns, start_revision, stop):  # type: ignore[no-untyped-def]
            calls.append(list(patterns))
            return super().watch(patterns, start_revision, stop)

    counting = CountingStore(load_settings({"endpoints": etcd, "confdir": "/nonexistent"}, {}))
    daemon = Daemon(config, counting)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        # The watch opens after a start's snapshot and the known keys' check: a put before
        # it would be rendered from the snapshot, not through the watch.
        wait_for(lambda: calls, what="the watch")
        store.put("/svc/3", b"x")
        wait_for(lambda: read(tree.out / "r3") == "x", what="a render through the watch")
    finally:
        daemon.stop()
        thread.join(timeout=20)
    assert len(calls) == 1
