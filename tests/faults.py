"""Inject a fault into a real confpy process: an attribute replaced by one that raises."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Confpy

_RUN_WITH_FAULT = """
import importlib, sys
def broken(*args, **kwargs):
    raise {error}("injected fault")
owner = importlib.import_module("{module}")
for name in "{path}".split(".")[:-1]:
    owner = getattr(owner, name)
setattr(owner, "{path}".split(".")[-1], broken)
from confpy.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def dies_with_one_line(
    confpy: Confpy, fault: str, args: list[str], thread: str, error: str = "RuntimeError"
) -> None:
    """Run `confpy ARGS` with `fault` ("module:attribute.path") raising `error`: it must end
    with exit 1 and one line saying which thread died of what, no traceback."""
    module, _, path = fault.partition(":")
    script = _RUN_WITH_FAULT.format(error=error, module=module, path=path)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=confpy.env(CONFPY_LOG_FORMAT="console"),
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    quoted = "'injected fault'" if error == "KeyError" else "injected fault"
    lines = [line for line in proc.stderr.splitlines() if "injected fault" in line]
    assert lines == [f"confpy: error: thread {thread} died: {error}: {quoted}; stopping"], (
        proc.stderr
    )
