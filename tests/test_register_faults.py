"""`confpy register` survives every etcd error class; it and `tls rotate --every` never
outlive their own worker thread."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.backoff import FailureLog
from confpy.config.settings import load_settings
from confpy.errors import StoreError, StoreFullError, StoreUnavailableError
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer, find_etcd
from tests.conftest import Confpy, wait_for
from tests.etcd_admin import current_revision
from tests.faults import dies_with_one_line

KEY = "/svc/host"
VALUE = b"10.0.0.5"


@pytest.fixture
def full_etcd(tmp_path: Path) -> Iterator[tuple[EtcdServer, EtcdStore]]:
    """An etcd with a 2 MB quota, filled until it raised its NOSPACE alarm."""
    server = EtcdServer(
        tmp_path / "etcd", extra_args=("--quota-backend-bytes", str(2 * 1024 * 1024))
    )
    server.start()
    store = EtcdStore(load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}))
    try:
        with pytest.raises(StoreFullError):
            for i in range(1000):
                store.put(f"/fill/{i}", b"x" * 100_000)
        yield server, store
    finally:
        store.close()
        server.stop()


def etcdctl(server: EtcdServer, *args: str) -> str:
    done = subprocess.run(
        [str(find_etcd("etcdctl")), "--endpoints", server.url, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def free_space(server: EtcdServer, store: EtcdStore) -> None:
    """What an operator does about NOSPACE: delete, compact, defragment, disarm."""
    etcdctl(server, "del", "--prefix", "/fill/")
    revision = current_revision(store)
    etcdctl(server, "compaction", "--physical", str(revision))
    etcdctl(server, "defrag")
    etcdctl(server, "alarm", "disarm")


def events(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.etcd
def test_register_outlives_a_nospace_alarm_and_registers_once_it_is_disarmed(
    full_etcd: tuple[EtcdServer, EtcdStore], tmp_path: Path
) -> None:
    """NOSPACE is retried, said once (no traceback), and the key comes once disarmed."""
    server, store = full_etcd
    log = tmp_path / "register.log"
    confpy = Confpy(server.url)
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "confpy", "register", KEY, VALUE.decode(), "--ttl", "3"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=confpy.env(),
        )
    try:
        wait_for(
            lambda: any(e.get("kind") == "StoreFullError" for e in events(log)),
            timeout=15,
            what="the NOSPACE failure logged",
        )
        # The alarm lasts on purpose: retries every second at most (ttl/3) meet it again.
        time.sleep(3)
        assert proc.poll() is None, log.read_text()
        free_space(server, store)
        wait_for(lambda: store.get(KEY)[0] == VALUE, timeout=20, what="registration")
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    full = [e for e in events(log) if e.get("kind") == "StoreFullError"]
    assert len(full) == 1, text
    recovered = [e for e in events(log) if e["event"] == "etcd answers again"]
    assert len(recovered) == 1 and int(str(recovered[0]["failures"])) >= 2, text
    assert store.get(KEY)[0] is None  # SIGTERM revoked the lease


@pytest.mark.parametrize("command", [[], ["--", "sleep", "60"]], ids=["alone", "with-command"])
def test_register_exits_1_with_one_line_when_its_thread_dies(
    confpy: Confpy, store: EtcdStore, command: list[str]
) -> None:
    """An error nothing retries ends the command (and its child) rather than leave it
    running without a registration."""
    args = ["register", KEY, "v", "--ttl", "2", *command]
    dies_with_one_line(confpy, "confpy.store:EtcdStore.keep_alive", args, "confpy-register")
    assert store.get(KEY)[0] is None  # the lease was revoked on the way out


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))

    info = warning


def test_failure_log_says_each_kind_of_failure_once_until_recovery() -> None:
    """A hundred retries of the same error class are one line; a new class is another."""
    log = _Log()
    failures = FailureLog(log, "failing", key=KEY)
    for _ in range(100):
        failures.failed(StoreFullError("full"), 1.0)
    failures.failed(StoreUnavailableError("down"), 1.0)
    failures.failed(StoreError("odd"), 1.0)
    failures.recovered()
    failures.failed(StoreFullError("full"), 1.0)
    kinds = [fields.get("kind") for _, fields in log.lines]
    assert kinds == [
        "StoreFullError",
        "StoreUnavailableError",
        "StoreError",
        None,
        "StoreFullError",
    ]
    assert log.lines[3] == ("etcd answers again", {"key": KEY, "failures": 102})


def test_tls_rotate_every_exits_1_with_one_line_when_its_thread_dies(
    confpy: Confpy, store: EtcdStore
) -> None:
    """The rotation loop's thread dying of an unexpected error: one line, exit 1."""
    args = ["tls", "rotate", "--prefix", "/svc", "--cn", "svc", "--every", "1h"]
    dies_with_one_line(confpy, "confpy.tls.every:rotate", args, "confpy-rotate")
