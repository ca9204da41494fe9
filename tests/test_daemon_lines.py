"""Long-running commands say at the default log level what they watch, and that they stopped."""

from __future__ import annotations

import json
import signal
import threading

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
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        wait_for(lambda: read(dest) == "1", what="first render")
        # exec renders once before it starts CMD and the watch: a SIGTERM before then
        # ends it with no watch to report.
        wait_for(lambda: "watching" in _events("".join(lines)), what="the start line")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        reader.join(timeout=5)
    events = _events("".join(lines))
    start = events["watching"]
    assert start["level"] == "info"
    assert (start["resources"], start["keys"], start["prefixes"]) == (2, 2, 2)
    assert etcd.removeprefix("http://") in str(start["endpoint"])
    assert start["from_revision"] == revision + 1
    assert events["stopped"]["level"] == "info"
