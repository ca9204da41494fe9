"""`confpy render --stdout`: every rendered file to one stream, each under a header.

Nothing is staged, checked, installed or reloaded. Files come in conf.d order (the files
of an `each` resource in name order), each preceded by `==> DEST <==`, as `tail` and
`head` print several files, so a CI job can diff the whole output against a golden file.
A private file (`secret = true`, or `confpy.redact.is_private`: its mode, or the mode of
the file already at DEST, denies others read) shows its checksum, never its lines:
stdout goes to CI logs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from confpy.apply.installer import desired_state
from confpy.apply.runner import Config, plan_change_set, render_all
from confpy.errors import ConfpyError
from confpy.redact import is_private
from confpy.store.snapshot import Snapshot


def render_to(config: Config, snapshot: Snapshot, out: BinaryIO) -> dict[str, ConfpyError]:
    """Write every file that renders to `out`; return the failures by resource name.

    A file that does not end in a newline gets one after it, so the next header starts
    its own line.
    """
    plan = plan_change_set(config, config.resources, snapshot, removals=False)
    rendered, failures = render_all(config, plan, snapshot)
    for op in plan.renders:
        content = rendered.get(op.name)
        if content is None:
            continue
        r = op.file
        out.write(f"==> {r.dest} <==\n".encode("utf-8", "surrogateescape"))
        desired = desired_state(r, content)
        if r.secret or is_private(_mode_now(r.dest), desired.mode):
            content = f"(private, mode {desired.mode:04o}: {desired.checksum})\n".encode()
        out.write(content)
        if content and not content.endswith(b"\n"):
            out.write(b"\n")
    out.flush()
    return {**plan.refused, **failures}


def _mode_now(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
