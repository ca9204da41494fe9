"""Run confpy in a fresh interpreter and see which modules it loaded; put a key with etcdctl.

For the import budget (tests/test_imports.py) and the start-work tests: what a path
loads is compared as sets of module names, never as timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, Confpy

GRPC = {"grpc", "google.protobuf", "etcd3"}
"""Never loaded by any path: confpy speaks the JSON gateway, not gRPC."""
NETWORK = {"ssl", "http.client", "urllib.request", "confpy.store.etcd", *GRPC}
"""The network stack: `--help` and `check` load none of it."""

# Runs the CLI and writes the loaded module names to argv[1] at exit (also after the
# SystemExit of `--help`).
PROBE = """\
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from confpy.cli import main
sys.exit(main(sys.argv[2:]))
"""


def loaded_modules(confpy: Confpy, tmp_path: Path, *args: str) -> set[str]:
    """The modules `confpy ARGS` has loaded when it exits (asserting it exited 0)."""
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=confpy.env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def interpreter_modules(confpy: Confpy, tmp_path: Path) -> set[str]:
    """What `python -c pass` loads in the same environment, with the probe's own imports."""
    out = tmp_path / "baseline.json"
    probe = PROBE.split("from confpy.cli")[0]
    subprocess.run([sys.executable, "-c", probe, str(out)], check=True, env=confpy.env(), cwd=ROOT)
    return set(json.loads(out.read_text()))


def present(modules: set[str], forbidden: set[str]) -> set[str]:
    """Which of `forbidden` (packages and their submodules) are among `modules`."""
    return {f for f in forbidden if any(m == f or m.startswith(f + ".") for m in modules)}


def etcdctl_put(confpy: Confpy, key: str, value: str) -> None:
    """`etcdctl put KEY VALUE` on the test's etcd, as an operator would."""
    from confpy.testing.etcd import find_etcd

    etcdctl = find_etcd("etcdctl")
    subprocess.run(
        [str(etcdctl), "--endpoints", str(confpy.endpoint), "put", key, value],
        check=True,
        capture_output=True,
    )
