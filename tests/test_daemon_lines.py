"""Long-running commands say at the default log level what they watch, and that they stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import threading

import pytest

from confpy.store import EtcdStore
from tests.conftest import Confpy, wait_for
from tests.daemons import read
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


def _events(stderr: str) -> dict[str, dict[str, object]]:
    out = {}
    for line in stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            out.setdefault(str(event["event"]), event)
    return out


class _Lines:
    """Collects a process's stderr lines as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self.lines.append(line)

    def events(self) -> dict[str, dict[str, object]]:
        return _events("".join(self.lines))

    def stop(self) -> None:
        self._proc.send_signal(signal.SIGTERM)
        self._proc.wait(timeout=20)
        self._reader.join(timeout=5)


@pytest.mark.parametrize("command", [["render", "--watch"], ["exec"]], ids=["render", "exec"])
def test_a_start_line_and_a_stop_line_at_the_default_level(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    etcd: str,
    command: list[str],
) -> None:
    """`watching`: resources, keys, endpoint and the revision it watches from; `stopped`."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    tree.simple("other", "{{ getv('/other/v', '') }}", ["/other"])
    store.put("/app/v", b"1")
    revision = store.put("/app/w", b"2")
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    proc = confpy.start(*command, "--confdir", str(tree.confdir), *tail)
    lines = _Lines(proc)
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
        wait_for(lambda: "watching" in lines.events(), what="the start line")
    finally:
        lines.stop()
    events = lines.events()
    start = events["watching"]
    assert start["level"] == "info"
    assert (start["resources"], start["keys"], start["prefixes"]) == (2, 2, 2)
    assert etcd.removeprefix("http://") in str(start["endpoint"])
    assert start["from_revision"] == revision + 1
    assert events["stopped"]["level"] == "info"
