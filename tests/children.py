"""A child process for `exec` and reload tests: logs its start and the signals it gets."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ConfTree

CHILD = """\
import os, signal, sys, time
out = sys.argv[1]
def log(text):
    with open(out, "a") as f:
        f.write(text + "\\n")
def on_hup(signum, frame):
    with open(sys.argv[2]) as f:
        log("HUP " + f.read().strip())
def on_term(signum, frame):
    log("TERM")
    sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
signal.signal(signal.SIGHUP, on_hup)
signal.signal(signal.SIGTERM, on_term)
log(f"started {os.getpid()}")
while True:
    time.sleep(0.05)
"""


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def child_script(tree: ConfTree) -> Path:
    path = tree.root / "child.py"
    path.write_text(CHILD)
    return path


def pids_started(log: Path) -> list[int]:
    return [int(x.split()[1]) for x in lines(log) if x.startswith("started")]
