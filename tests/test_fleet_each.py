"""`fleet_group` on an `each` resource, on a real etcd: one slot per change set for all its files."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd

SERVICES = ("a", "b", "c")

# A reload that logs its start and end and takes HOLD seconds.
RELOAD = """\
import sys, time
log, who, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(log, "a") as f:
    f.write(f"start {who} {time.time():.6f}\\n")
time.sleep(hold)
with open(log, "a") as f:
    f.write(f"end {who} {time.time():.6f}\\n")
"""


def _daemon(confpy: Confpy, root: Path, who: str, log: Path) -> tuple[Watcher, ConfTree]:
    tree = ConfTree(root / who)
    script = root / "reload.py"
    script.write_text(RELOAD)
    argv = ", ".join(f'"{a}"' for a in (sys.executable, script, log, who, 1.0))
    tree.template("svc.j2", "{{ each.name }} {{ getv('/common') }}\n")
    tree.resource(
        "svc",
        f"""
[template]
src = "svc.j2"
dest = "{{out}}/{{{{ name }}}}.conf"
prefix = "/app"
each = "/services/*"
keys = ["/common"]
reload_cmd = [{argv}]
fleet_group = "lb"
fleet_concurrency = 1
""",
    )
    return Watcher(confpy, tree, "--min-reload-interval", "0"), tree


def _all_have(tree: ConfTree, text: str) -> bool:
    files = [tree.out / f"{s}.conf" for s in SERVICES]
    return all(f.exists() and text in f.read_text() for f in files)


def _spans(log: Path) -> list[tuple[str, float, float]]:
    starts: dict[str, float] = {}
    spans = []
    for line in log.read_text().splitlines() if log.exists() else []:
        what, who, at = line.split()
        if what == "start":
            starts[who] = float(at)
        else:
            spans.append((who, starts.pop(who), float(at)))
    return spans


def test_an_each_resource_takes_one_slot_per_change_set_for_all_its_files(
    confpy: Confpy, store, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """Two daemons, each resource over three services, fleet_concurrency = 1: a change to
    all three files takes the group's slot once per daemon (not once per file), reloads
    once per daemon, and the two daemons' reloads do not overlap."""
    for s in SERVICES:
        store.put(f"/app/services/{s}", b"up")
    store.put("/app/common", b"v1")
    log = tmp_path / "reloads.log"
    pairs = [_daemon(confpy, tmp_path, who, log) for who in ("d0", "d1")]
    watchers += [w for w, _ in pairs]
    wait_for(lambda: all(_all_have(t, "v1") for _, t in pairs), 60, "the first files")
    wait_for(lambda: len(_spans(log)) == 2, 30, "the first reloads")
    taken = [len(w.events("fleet slot taken")) for w, _ in pairs]
    assert taken == [1, 1]

    store.put("/app/common", b"v2")
    wait_for(lambda: all(_all_have(t, "v2") for _, t in pairs), 60, "the changed files")
    wait_for(lambda: len(_spans(log)) == 4, 30, "the second reloads")

    assert [len(w.events("fleet slot taken")) for w, _ in pairs] == [2, 2]
    spans = sorted(_spans(log), key=lambda s: s[1])
    assert sorted(who for who, _, _ in spans) == ["d0", "d0", "d1", "d1"]
    for (a, _, a_end), (b, b_start, _) in itertools.pairwise(spans):
        assert a_end <= b_start, f"{a}'s reload overlapped {b}'s"
    for w, _ in pairs:
        assert w.stop() == 0
