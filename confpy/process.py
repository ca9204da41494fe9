"""Run operator commands (check, reload, restart) safely, and signal processes by pidfile.

A string command runs through `/bin/sh -c` as in confd; an array runs without a shell.
Each command runs in its own session so that a timeout kills its whole process group,
not just the shell. Output is captured, cut to a sane length, and returned for the log.
Values from etcd never reach a command line: only `{{ src }}` and `{{ dest }}` (paths
confpy chose) are substituted.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from confpy.errors import CommandError, ProcessError

OUTPUT_LIMIT = 4096
"""Bytes of a command's combined output kept for the log and error messages."""

_PLACEHOLDER = re.compile(r"\{\{\s*\.?(src|dest)\s*\}\}")


@dataclass(frozen=True)
class CommandResult:
    command: str
    status: int
    output: str
    duration: float


def describe(command: str | tuple[str, ...]) -> str:
    """A printable form of a command for logs and messages."""
    if isinstance(command, str):
        return command
    return " ".join(command)


def substitute(command: str | tuple[str, ...], **paths: str) -> str | tuple[str, ...]:
    """Replace `{{ src }}`, `{{.src}}`, `{{ dest }}`, `{{.dest}}` with paths confpy chose."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in paths:
            return m.group(0)
        return paths[name]

    if isinstance(command, str):
        return _PLACEHOLDER.sub(repl, command)
    return tuple(_PLACEHOLDER.sub(repl, arg) for arg in command)


def run_command(
    command: str | tuple[str, ...],
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> CommandResult:
    """Run `command` to completion; kill its process group if it outlives `timeout`.

    Returns the result whatever the exit status; raises CommandError only when the command
    cannot start or times out.
    """
    text = describe(command)
    args: str | list[str] = command if isinstance(command, str) else list(command)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            shell=isinstance(command, str),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except OSError as e:
        raise CommandError(f"cannot run {text!r}: {e.strerror}", command=text) from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        raise CommandError(
            f"command timed out after {timeout:g}s and was killed: {text!r}",
            command=text,
            output=_cut(out),
        ) from None
    return CommandResult(text, proc.returncode, _cut(out), time.monotonic() - start)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _cut(data: bytes | None) -> str:
    if not data:
        return ""
    text = data.decode("utf-8", errors="replace").strip()
    if len(text) > OUTPUT_LIMIT:
        text = text[:OUTPUT_LIMIT] + f"... [{len(text) - OUTPUT_LIMIT} more characters]"
    return text


def signal_pidfile(pidfile: Path, signame: str) -> int:
    """Send SIG`signame` to the process whose PID is in `pidfile`; return that PID."""
    try:
        text = pidfile.read_text().strip()
    except OSError as e:
        raise ProcessError(f"{pidfile}: cannot read pidfile: {e.strerror}") from None
    if not text.isdigit() or int(text) <= 1:
        raise ProcessError(f"{pidfile}: does not hold a usable PID")
    pid = int(text)
    try:
        os.kill(pid, signal.Signals["SIG" + signame])
    except ProcessLookupError:
        raise ProcessError(f"{pidfile}: process {pid} is not running") from None
    except PermissionError:
        raise ProcessError(f"{pidfile}: not allowed to signal process {pid}") from None
    return pid
