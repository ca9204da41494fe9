"""`confpy register`: a key under a lease that lives exactly as long as the service."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from confpy.errors import StoreUnavailableError
from confpy.fleet.register import Registration
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import wait_for
from tests.helpers import signal_another_thread

KEY = "/elasticsearch/host"
VALUE = "10.0.0.5"


def lease_of(store: EtcdStore, key: str) -> int:
    """The lease id attached to `key` (0: none or key absent)."""
    kvs = store._rpc("get", "/kv/range", {"key": base64.b64encode(key.encode()).decode()}).get(
        "kvs"
    )
    return int(kvs[0].get("lease", 0)) if kvs else 0


def registered(store: EtcdStore, value: bytes = VALUE.encode()) -> bool:
    return store.get(KEY)[0] == value


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    """Signal `proc` (if still running) and return its stderr."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return stderr


# -- the keeper with a fake store -------------------------------------------------------------


class FakeStore:
    """An in-memory lease store; `down` makes every call fail as if etcd were unreachable."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[bytes, int]] = {}
        self.leases: set[int] = set()
        self.next_lease = 100
        self.down = False
        self.calls: list[str] = []

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise StoreUnavailableError(f"etcd unavailable during {what}")

    def get(self, key: str) -> tuple[bytes | None, int]:
        self._check("get")
        value = self.values.get(key)
        return (value[0], 1) if value else (None, 0)

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        self._check("put")
        self.values[key] = (value, lease or 0)
        return 1

    def grant_lease(self, ttl: int) -> int:
        self._check("grant")
        self.next_lease += 1
        self.leases.add(self.next_lease)
        return self.next_lease

    def keep_alive(self, lease_id: int) -> int:
        self._check("keep_alive")
        return 5 if lease_id in self.leases else 0

    def revoke_lease(self, lease_id: int, *, timeout: float | None = None) -> None:
        self._check("revoke")
        self.expire(lease_id)

    def cancelled_by(self, stop: threading.Event) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def expire(self, lease_id: int) -> None:
        self.leases.discard(lease_id)
        self.values = {k: v for k, v in self.values.items() if v[1] != lease_id}


def test_step_registers_then_refreshes_the_same_lease() -> None:
    """The first step grants a lease and puts the key; later steps only keep it alive."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 3)
    reg.step()
    lease = reg.lease
    assert store.values[KEY] == (b"v", lease)
    reg.step()
    assert reg.lease == lease and reg.registrations == 1
    assert store.calls[-2:] == ["keep_alive", "get"]


def test_expired_lease_is_replaced_by_a_new_registration() -> None:
    """When keep-alive reports the lease gone, the key is put again under a new lease."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 3)
    reg.step()
    old = reg.lease
    assert old is not None
    store.expire(old)
    reg.step()
    assert reg.lease not in (None, old)
    assert store.values[KEY] == (b"v", reg.lease) and reg.registrations == 2


def test_run_retries_with_backoff_while_etcd_is_down_then_registers() -> None:
    """Outages are retried with growing, bounded waits (injected sleep), then registration."""
    store = FakeStore()
    store.down = True
    waits: list[float] = []
    reg = Registration(store, KEY, b"v", 3, backoff_max=1.0)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 5:
            store.down = False
        if reg.registrations:
            reg.stop.set()

    reg.sleep = sleep
    reg.run()
    assert reg.registrations == 1
    assert all(w <= 1.0 + 0.2 for w in waits[:5])
    assert KEY not in store.values  # released on stop: lease revoked, key gone


def test_release_revokes_the_lease_and_the_key_goes() -> None:
    """Stopping revokes the lease, which removes the key."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 3)
    reg.step()
    reg.release()
    assert KEY not in store.values and not store.leases


def test_release_tolerates_etcd_being_down() -> None:
    """If etcd is unreachable at stop, release logs and returns (the TTL cleans up)."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 1)  # revoke is retried for at most the TTL
    reg.step()
    store.down = True
    reg.release()
    assert reg.lease is None
    assert store.calls.count("revoke") > 1


def test_release_retries_revoke_while_etcd_reconnects() -> None:
    """A revoke that fails as unavailable is retried (injected sleep) until it succeeds."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 3)
    reg.step()
    store.down = True
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        store.down = len(waits) < 3

    reg.release_sleep = sleep
    reg.release()
    assert len(waits) == 3
    assert KEY not in store.values


def test_run_stops_promptly_when_stop_is_set() -> None:
    """The keeper thread ends soon after stop is set, even mid-interval."""
    store = FakeStore()
    reg = Registration(store, KEY, b"v", 30)
    thread = threading.Thread(target=reg.run)
    thread.start()
    assert reg.registered.wait(5)
    reg.stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert KEY not in store.values


# -- the command against a real etcd ----------------------------------------------------------

etcd_test = pytest.mark.etcd


@etcd_test
def test_register_puts_the_key_under_a_lease(confpy, store) -> None:
    """The key appears with the value, attached to a lease."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "5")
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        assert lease_of(store, KEY) != 0
    finally:
        stop(proc)


@etcd_test
def test_sigterm_removes_the_key_at_once(confpy, store) -> None:
    """SIGTERM revokes the lease: the key is gone when confpy has exited, exit 0."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30")
    wait_for(lambda: registered(store), timeout=15, what="registration")
    stderr = stop(proc, signal.SIGTERM)
    assert proc.returncode == 0, stderr
    assert store.get(KEY)[0] is None


@etcd_test
def test_sigterm_received_by_another_thread_removes_the_key(confpy, store) -> None:
    """The kernel may hand SIGTERM to the keeper or a gRPC thread: same clean exit."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30")
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        signal_another_thread(proc.pid, signal.SIGTERM)
        wait_for(lambda: proc.poll() is not None, timeout=15, what="confpy to exit")
    finally:
        stderr = stop(proc, signal.SIGKILL)
    assert proc.returncode == 0, stderr
    assert store.get(KEY)[0] is None


@etcd_test
def test_sigterm_received_by_another_thread_is_forwarded_to_the_command(confpy, store) -> None:
    """A command under register gets the SIGTERM whichever thread of confpy received it."""
    script = "import time\nwhile True: time.sleep(0.05)"
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30", "--", sys.executable, "-c", script)
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        signal_another_thread(proc.pid, signal.SIGTERM)
        wait_for(lambda: proc.poll() is not None, timeout=15, what="confpy to exit")
    finally:
        stop(proc, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM
    assert store.get(KEY)[0] is None


@etcd_test
def test_one_line_says_what_register_does_at_start_and_one_at_stop(confpy, store, etcd) -> None:
    """The start line names key, TTL, refresh interval, endpoint and command; the stop line the exit."""
    proc = confpy.start(
        "register",
        KEY,
        VALUE,
        "--ttl",
        "30",
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(60)",
    )
    wait_for(lambda: registered(store), timeout=15, what="registration")
    events = [json.loads(line) for line in stop(proc).splitlines() if line.startswith("{")]
    start = next(e for e in events if e["event"] == "register starting")
    assert (start["logger"], start["key"], start["ttl"], start["refresh_every"]) == (
        "confpy.commands.register",
        KEY,
        30,
        10.0,
    )
    assert start["endpoints"] == etcd and start["command"] == sys.executable
    assert events[-1]["event"] == "register stopped"
    assert (events[-1]["key"], events[-1]["exit_code"]) == (KEY, 128 + signal.SIGTERM)
    assert VALUE not in json.dumps(events)


@etcd_test
def test_every_event_says_which_module_spoke(confpy, store) -> None:
    """Supervisor and register events carry their logger names, so identical words are told apart."""
    proc = confpy.start(
        "register",
        KEY,
        VALUE,
        "--ttl",
        "30",
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(60)",
    )
    wait_for(lambda: registered(store), timeout=15, what="registration")
    events = [json.loads(line) for line in stop(proc).splitlines() if line.startswith("{")]
    assert all(e.get("logger", "").startswith("confpy.") for e in events)
    assert {"confpy.fleet.register", "confpy.supervise.supervisor"} <= {e["logger"] for e in events}


@etcd_test
def test_sigint_removes_the_key_at_once(confpy, store) -> None:
    """SIGINT (Ctrl-C) also deregisters cleanly."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30")
    wait_for(lambda: registered(store), timeout=15, what="registration")
    stop(proc, signal.SIGINT)
    assert proc.returncode == 0
    assert store.get(KEY)[0] is None


@pytest.mark.slow
@etcd_test
def test_sigkill_leaves_the_key_until_the_ttl_expires(confpy, store) -> None:
    """A killed confpy cannot clean up: the key stays, then expires after the TTL."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "2")
    wait_for(lambda: registered(store), timeout=15, what="registration")
    stop(proc, signal.SIGKILL)
    killed_at = time.monotonic()
    assert registered(store)
    wait_for(lambda: store.get(KEY)[0] is None, timeout=10, what="key expiry")
    assert time.monotonic() - killed_at < 8


@etcd_test
def test_command_exit_code_is_returned_and_key_removed(confpy, store, tmp_path) -> None:
    """With -- CMD, confpy exits with CMD's status and deregisters."""
    go = tmp_path / "go"
    script = (
        f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        "sys.exit(7)"
    )
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30", "--", sys.executable, "-c", script)
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        go.touch()
        proc.communicate(timeout=15)
    finally:
        stop(proc)
    assert proc.returncode == 7
    assert store.get(KEY)[0] is None


@etcd_test
def test_sigterm_is_forwarded_to_the_command(confpy, store, tmp_path) -> None:
    """SIGTERM reaches CMD, whose handler's status becomes confpy's; the key is removed."""
    marker, ready = tmp_path / "got-term", tmp_path / "ready"
    script = (
        "import pathlib, signal, sys, time\n"
        f"def bye(*_):\n    pathlib.Path({str(marker)!r}).touch()\n    sys.exit(42)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "while True: time.sleep(0.05)\n"
    )
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30", "--", sys.executable, "-c", script)
    wait_for(lambda: registered(store), timeout=15, what="registration")
    wait_for(ready.exists, timeout=15, what="the command's SIGTERM handler")
    stop(proc, signal.SIGTERM)
    assert marker.exists()
    assert proc.returncode == 42
    assert store.get(KEY)[0] is None


@etcd_test
def test_command_killed_by_signal_exits_128_plus_n(confpy, store) -> None:
    """A CMD ended by SIGTERM (no handler) makes confpy exit 143."""
    script = "import time\nwhile True: time.sleep(0.05)"
    proc = confpy.start("register", KEY, VALUE, "--ttl", "30", "--", sys.executable, "-c", script)
    wait_for(lambda: registered(store), timeout=15, what="registration")
    stop(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    assert store.get(KEY)[0] is None


@etcd_test
def test_command_that_cannot_start_fails_without_registering(confpy, store) -> None:
    """A missing CMD is exit 1 with a one-line error, and the key is never written."""
    result = confpy.run("register", KEY, VALUE, "--ttl", "5", "--", "/nonexistent/elasticsearch")
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert store.get(KEY)[0] is None


@etcd_test
def test_value_from_env(confpy, store) -> None:
    """--value-from-env reads the value from a variable (not visible in ps)."""
    env = confpy.env(ES_HOST="10.9.9.9")
    proc = confpy.start("register", KEY, "--value-from-env", "ES_HOST", "--ttl", "5", env=env)
    try:
        wait_for(lambda: registered(store, b"10.9.9.9"), timeout=15, what="registration")
    finally:
        stop(proc)


@etcd_test
def test_value_file_drops_the_trailing_newline(confpy, store, tmp_path: Path) -> None:
    """--value-file reads the value from a file, without echo's newline."""
    (tmp_path / "v").write_text("10.8.8.8\n")
    proc = confpy.start("register", KEY, "--value-file", str(tmp_path / "v"), "--ttl", "5")
    try:
        wait_for(lambda: registered(store, b"10.8.8.8"), timeout=15, what="registration")
    finally:
        stop(proc)


@etcd_test
def test_value_and_value_file_together_is_a_usage_error(confpy, store, tmp_path) -> None:
    """Exactly one value source: exit 2."""
    (tmp_path / "v").write_text("x")
    result = confpy.run("register", KEY, VALUE, "--value-file", str(tmp_path / "v"), "--ttl", "5")
    assert result.returncode == 2


@etcd_test
def test_revoked_lease_is_replaced_and_the_key_comes_back(confpy, store) -> None:
    """If the lease disappears (as after expiry), the key is registered under a new lease."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "3")
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        old = lease_of(store, KEY)
        store.revoke_lease(old)
        wait_for(lambda: lease_of(store, KEY) not in (0, old), timeout=15, what="new lease")
        assert registered(store)
    finally:
        stop(proc)


@etcd_test
def test_deleted_key_is_put_back(confpy, store) -> None:
    """An `etcdctl rm` of the key while confpy lives is undone at the next refresh."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "3")
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        store.delete(KEY)
        wait_for(lambda: registered(store), timeout=10, what="key put back")
    finally:
        stop(proc)


@pytest.mark.slow
@etcd_test
def test_key_comes_back_after_etcd_restart(confpy, store, etcd_server) -> None:
    """etcd down past the TTL, then back: the key is registered again without intervention."""
    proc = confpy.start("register", KEY, VALUE, "--ttl", "2")
    try:
        wait_for(lambda: registered(store), timeout=15, what="registration")
        etcd_server.kill()
        try:
            # Nothing to poll while etcd is down: let the TTL run out on purpose.
            time.sleep(3)
        finally:
            etcd_server.start()
        wait_for(lambda: registered(store), timeout=20, what="re-registration after restart")
        assert proc.poll() is None
        assert lease_of(store, KEY) != 0
    finally:
        stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert store.get(KEY)[0] is None, stderr


class PausableProxy:
    """A TCP proxy to etcd that can cut confpy off (a partition) while etcd stays up."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.blocked = threading.Event()
        self.closing = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.blocked.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def block(self) -> None:
        """Drop every connection and refuse new ones."""
        self.blocked.set()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def unblock(self) -> None:
        self.blocked.clear()

    def close(self) -> None:
        self.closing.set()
        self.block()
        self.listener.close()


@pytest.mark.slow
@etcd_test
def test_key_comes_back_after_a_partition_outlasting_the_lease(
    confpy, store, etcd, tmp_path
) -> None:
    """Cut off past the TTL, the lease expires in etcd; reconnected, a new lease restores it."""
    proxy = PausableProxy(int(etcd.rsplit(":", 1)[1]))
    log_path = tmp_path / "register.log"
    try:
        with log_path.open("w") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "confpy", "register", KEY, VALUE, "--ttl", "2"],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                env=confpy.env(CONFPY_ENDPOINTS=proxy.url),
            )
        try:
            # Wait for confpy's own word, not only the key in etcd: cut off between etcd
            # committing the put and the reply reaching confpy, it never knew the first
            # lease and simply registers again, which is not the path this test is about.
            wait_for(
                lambda: '"event": "registered"' in log_path.read_text(),
                timeout=15,
                what="registration",
            )
            old = lease_of(store, KEY)
            proxy.block()
            wait_for(lambda: store.get(KEY)[0] is None, timeout=15, what="lease expiry in etcd")
            proxy.unblock()
            wait_for(lambda: registered(store), timeout=20, what="re-registration")
            assert lease_of(store, KEY) not in (0, old)
        finally:
            stop(proc)
        stderr = log_path.read_text()
        assert proc.returncode == 0, stderr
        assert "lease expired, registering again" in stderr
    finally:
        proxy.close()


def test_registration_works_against_the_memory_store() -> None:
    """`Registration` needs nothing beyond the one `Store` protocol that MemoryStore fakes."""
    from confpy.testing.memory import MemoryStore

    store = MemoryStore()
    reg = Registration(store, KEY, b"v", 3)
    reg.step()
    assert store.get(KEY)[0] == b"v"
    reg.release()
    assert store.get(KEY)[0] is None
