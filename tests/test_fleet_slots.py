"""Fleet reload slots (fleet_group / fleet_concurrency) across daemons on one real etcd."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path

from confpy.fleet.slots import SLOT_TTL
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, healthz
from tests.helpers import ConfTree

# A reload that logs when it starts and ends. The first reload to find no FIRST file
# creates it and hangs (the victim a test kills); the others take HOLD seconds.
RELOAD = """\
import os, sys, time
log, who, first, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def note(what):
    with open(log, "a") as f:
        f.write(f"{what} {who} {time.time():.6f} {os.getpid()}\\n")
note("start")
victim = False
if first != "-":
    try:
        os.close(os.open(first, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        victim = True
    except FileExistsError:
        pass
time.sleep(600 if victim else hold)
note("end")
"""


def _daemon(
    confpy: Confpy,
    root: Path,
    who: str,
    log: Path,
    *,
    first: str = "-",
    hold: float = 1.0,
    extra: tuple[str, ...] = (),
    concurrency: int = 1,
) -> Watcher:
    tree = ConfTree(root / who)
    script = root / "reload.py"
    script.write_text(RELOAD)
    reload_cmd = ", ".join(f'"{a}"' for a in (sys.executable, script, log, who, first, hold))
    tree.simple(
        "lb",
        "backend {{ getv('/app/backend') }}\n",
        ["/app/backend"],
        f'reload_cmd = [{reload_cmd}]\nfleet_group = "lb"\nfleet_concurrency = {concurrency}\n'
        'command_timeout = "700s"\n',
    )
    return Watcher(confpy, tree, "--report-id", who, *extra)


def _record(store: EtcdStore, key: str) -> dict[str, object]:
    value, _ = store.get(key)
    return {} if value is None else dict(json.loads(value))


def _intervals(log: Path) -> list[tuple[str, float, float]]:
    """(who, start, end) of every finished reload in `log`."""
    starts: dict[str, float] = {}
    done = []
    for line in log.read_text().splitlines() if log.exists() else []:
        what, who, at, _ = line.split()
        if what == "start":
            starts[who] = float(at)
        else:
            done.append((who, starts.pop(who), float(at)))
    return done


def _started(log: Path) -> list[list[str]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split() for line in lines if line.startswith("start")]


def test_with_concurrency_one_no_two_reloads_of_the_group_overlap(
    confpy: Confpy, store, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """Five daemons whose reload takes 1 s, all starting at once and then all seeing one
    change: ten reloads, and no two of them overlap in time."""
    store.put("/app/backend", b"10.0.0.1")
    log = tmp_path / "reloads.log"
    watchers += [_daemon(confpy, tmp_path, f"d{i}", log) for i in range(5)]
    wait_for(lambda: len(_intervals(log)) == 5, 60, "five first reloads")
    store.put("/app/backend", b"10.0.0.2")
    wait_for(lambda: len(_intervals(log)) == 10, 60, "five more reloads")
    spans = sorted(_intervals(log), key=lambda s: s[1])
    for (a, _, a_end), (b, b_start, _) in itertools.pairwise(spans):
        assert a_end <= b_start, f"{a}'s reload overlapped {b}'s"
    for w in watchers:
        assert w.stop() == 0


def test_a_daemon_killed_during_its_reload_blocks_the_others_no_longer_than_its_lease(
    confpy: Confpy, store, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """The first daemon to take the slot hangs in its reload and is SIGKILLed there; the
    next reload starts within the slot lease's TTL of the kill."""
    store.put("/app/backend", b"10.0.0.1")
    log = tmp_path / "reloads.log"
    first = str(tmp_path / "first")
    by_id = {f"d{i}": _daemon(confpy, tmp_path, f"d{i}", log, first=first) for i in range(3)}
    watchers += by_id.values()
    started = wait_for(lambda: _started(log), 30, "the first reload")
    assert isinstance(started, list)
    _, victim, _, reload_pid = started[0]
    by_id[victim].proc.kill()
    killed_at = time.time()
    os.kill(int(reload_pid), signal.SIGKILL)  # its orphaned reload command
    wait_for(lambda: len(_started(log)) >= 2, SLOT_TTL + 10, "the next reload")
    next_start = float(_started(log)[1][2])
    assert next_start - killed_at <= SLOT_TTL + 2, "the dead daemon's slot outlived its lease"
    wait_for(lambda: len(_intervals(log)) == 2, 30, "the other two reloads")
    for who, w in by_id.items():
        if who != victim:
            assert w.stop() == 0


def test_a_daemon_waiting_for_a_slot_says_so_and_stops_at_once_on_sigterm(
    confpy: Confpy, store, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """While another daemon holds the only slot, /healthz and the status record name the
    slot it waits for, and SIGTERM ends the wait and the daemon within 2 s, its file untouched."""
    store.put("/app/backend", b"10.0.0.1")
    log = tmp_path / "reloads.log"
    first = str(tmp_path / "first")
    holder = _daemon(confpy, tmp_path, "holder", log, first=first)
    watchers.append(holder)
    wait_for(lambda: _started(log), 30, "the holder's reload")
    port = free_port()
    waiter = _daemon(
        confpy,
        tmp_path,
        "waiter",
        log,
        first=first,
        extra=("--health-addr", f"127.0.0.1:{port}", "--report-prefix", "/fleet/status"),
    )
    watchers.append(waiter)
    wait_for(
        lambda: "fleet slot lb" in str(healthz(port)[1].get("waiting_for")),
        30,
        "the waiter to say it waits for a slot",
    )
    wait_for(
        lambda: "fleet slot lb" in str(_record(store, "/fleet/status/waiter").get("waiting_for")),
        30,
        "the waiter's status record to say it too",
    )
    sent = time.monotonic()
    waiter.proc.send_signal(signal.SIGTERM)
    assert waiter.proc.wait(timeout=10) == 0
    assert time.monotonic() - sent < 2.0
    assert not (tmp_path / "waiter" / "out" / "lb").exists()
    os.kill(int(_started(log)[0][3]), signal.SIGKILL)
    holder.proc.kill()


def test_with_concurrency_two_at_most_two_reload_at_once(
    confpy: Confpy, store, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """Four daemons, fleet_concurrency = 2, reloads of 2 s: never three at once, and the
    group does use its two slots (two reloads do overlap)."""
    store.put("/app/backend", b"10.0.0.1")
    log = tmp_path / "reloads.log"
    watchers += [_daemon(confpy, tmp_path, f"d{i}", log, hold=2.0, concurrency=2) for i in range(4)]
    wait_for(lambda: len(_intervals(log)) == 4, 60, "four reloads")
    spans = _intervals(log)
    at_once = max(sum(s <= t < e for _, s, e in spans) for _, t, _ in spans)
    assert at_once == 2
    for w in watchers:
        assert w.stop() == 0
