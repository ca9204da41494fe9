"""Long-running commands say at the default log level what they watch, and that they stopped."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from confpy.store import EtcdStore
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree
from tests.test_daemon import read, tree  # noqa: F401  (fixture)

pytestmark = pytest.mark.etcd


def _events(stderr: str) -> dict[str, dict[str, object]]:
    out = {}
    for line in stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            out.setdefault(str(event["event"]), event)
    return out


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    return stderr


@pytest.mark.parametrize("command", [["render", "--watch"], ["exec"]], ids=["render", "exec"])
def test_a_start_line_and_a_stop_line_at_the_default_level(
        confpy: Confpy, tree: ConfTree, store: EtcdStore, etcd: str,  # noqa: F811
        command: list[str]) -> None:
    """`watching`: resources, keys, endpoint and the revision it watches from; `stopped`."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    tree.simple("other", "{{ getv('/other/v', '') }}", ["/other"])
    store.put("/app/v", b"1")
    revision = store.put("/app/w", b"2")
    tail = ["--", "sleep", "60"] if command == ["exec"] else []
    proc = confpy.start(*command, "--confdir", str(tree.confdir), *tail)
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
    finally:
        stderr = _stop(proc)
    events = _events(stderr)
    start = events["watching"]
    assert start["level"] == "info"
    assert (start["resources"], start["keys"], start["prefixes"]) == (2, 2, 2)
    assert etcd.removeprefix("http://") in str(start["endpoint"])
    assert start["from_revision"] == revision + 1
    assert events["stopped"]["level"] == "info"
