"""Work at start is proportional to what is there: a watch daemon renders each resource
once when it starts (issue 22), and a one-shot reads one snapshot for all its resources.

Each command runs in a fresh interpreter that counts, at exit, the renders and the
snapshots it asked for (the probe wraps `TemplateSet.render` and `EtcdStore.snapshot`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, Confpy, wait_for
from tests.helpers import ConfTree
from tests.modules_probe import etcdctl_put

# Counts renders per resource and snapshots, and writes them to argv[1] at exit.
_PROBE = """\
import atexit, collections, json, sys
from confpy.render import templates
from confpy.store import EtcdStore
renders, snapshots = collections.Counter(), []
render, snapshot = templates.TemplateSet.render, EtcdStore.snapshot
def counted_render(self, resource, *args, **kwargs):
    renders[resource.name] += 1
    return render(self, resource, *args, **kwargs)
def counted_snapshot(self, *args, **kwargs):
    snapshots.append(1)
    return snapshot(self, *args, **kwargs)
templates.TemplateSet.render = counted_render
EtcdStore.snapshot = counted_snapshot
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps([renders, len(snapshots)])))
from confpy.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def tree(tmp_path: Path) -> ConfTree:
    tree = ConfTree(tmp_path)
    for name in ("app", "proxy", "db"):
        tree.template(f"{name}.tmpl", '{{getv "/start/host"}}\n')
        tree.resource(
            name, f'[template]\nsrc = "{name}.tmpl"\ndest = "{{out}}/{name}"\nkeys = ["/start"]\n'
        )
    return tree


@pytest.mark.etcd
def test_a_watch_daemon_renders_each_resource_once_at_start(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """`render --watch` starting with three resources renders each exactly once before it
    watches (no second pass over the same snapshot), from one snapshot."""
    etcdctl_put(confpy, "/start/host", "db1")
    out = tmp_path / "counts.json"
    argv = ["render", "--watch", "--confdir", str(tree.confdir)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROBE, str(out), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=confpy.env(CONFPY_LOG_LEVEL="info", CONFPY_LOG_FORMAT="json"),
        cwd=ROOT,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, b"")))
    reader.start()
    try:
        wait_for(lambda: any(b'"event": "watching"' in line for line in lines), what="watching")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0, b"".join(lines)
    renders, snapshots = json.loads(out.read_text())
    assert renders == {"app": 1, "proxy": 1, "db": 1}
    assert snapshots == 1


@pytest.mark.etcd
def test_a_onetime_reads_one_snapshot_for_all_its_resources(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """`render --onetime` over three resources asks etcd for one snapshot and renders each
    resource once from it."""
    etcdctl_put(confpy, "/start/host", "db1")
    out = tmp_path / "counts.json"
    argv = ["render", "--onetime", "--confdir", str(tree.confdir)]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *argv],
        capture_output=True,
        env=confpy.env(),
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tree.out / "db").read_text() == "db1\n"
    renders, snapshots = json.loads(out.read_text())
    assert renders == {"app": 1, "proxy": 1, "db": 1}
    assert snapshots == 1
