"""Processes: run operator commands (check, reload, restart) safely, signal by pidfile, and
the primitives a supervisor needs (start a child in its own session, signal its group, read
wait statuses, become a subreaper).

A string command runs through `/bin/sh -c` as in confd; an array runs without a shell.
Each command runs in its own session so that a timeout kills its whole process group,
not just the shell; its output is read against the same deadline, so a child that escapes
the group or holds the pipe open cannot block confpy. Output is captured, cut to a sane
length, and returned for the log.
Values from etcd never reach a command line, and the paths `{{ src }}` and `{{ dest }}`
reach it only as `command_paths.prepare` put them: a file name from an etcd key is never
read as shell syntax or as an option.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from confpy.config.commands import ENV, Prepared
from confpy.errors import CommandError, ConfigError, ProcessError

OUTPUT_LIMIT = 4096
"""Bytes of a command's combined output kept for the log and error messages."""


@dataclass(frozen=True)
class CommandResult:
    command: str
    status: int
    output: str


def describe(command: str | tuple[str, ...] | Prepared) -> str:
    """A printable form of a command for logs and messages."""
    if isinstance(command, Prepared):
        return command.shown
    if isinstance(command, str):
        return command
    return " ".join(command)


DRAIN_GRACE = 0.2
"""Seconds to keep reading once the command has exited, for output its children still write.

A child that holds the pipe longer (a daemon an init script started) is left running and
no longer read: confpy never waits for a life it did not ask for.
"""

_TICK = 0.05
"""How often to look for the command's exit where the kernel has no pidfd to wait on."""


def run_command(
    command: str | tuple[str, ...] | Prepared, *, timeout: float = 30.0
) -> CommandResult:
    """Run `command`; return its result once it exits, whatever the exit status.

    `timeout` holds whatever the command does: output is read against the deadline, and a
    command still running then has its whole process group killed (SIGKILL, so ignoring
    SIGTERM does not help). A child that escaped the group (setsid) or keeps the output pipe
    open after the command exited never delays the return: it keeps running unread.
    Raises CommandError only when the command cannot start or times out.
    """
    text = describe(command)
    if not isinstance(command, Prepared):
        command = Prepared(command, {}, text)
    args: str | list[str] = command.args if isinstance(command.args, str) else list(command.args)
    # The paths' variables are the command's own: none leaks in from confpy's environment.
    env = {k: v for k, v in os.environ.items() if k not in ENV.values()} | dict(command.env)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            shell=isinstance(args, str),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        raise CommandError(f"cannot run {text!r}: {e.strerror}", command=text) from None
    output = _Output()
    try:
        exited = _collect(proc, output, start + timeout)
    finally:
        _close_pipe(proc)
    if not exited:
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # SIGKILLed: only a process stuck in the kernel lingers
        raise CommandError(
            f"command timed out after {timeout:g}s and was killed: {text!r}",
            command=text,
            output=output.text(),
        )
    return CommandResult(text, proc.returncode, output.text())


def run_checked(
    command: str | tuple[str, ...] | Prepared,
    *,
    timeout: float,
    what: str,
    dest: str | None = None,
) -> CommandResult:
    """Run `command` as step `what` (`check_cmd`, `reload_cmd`...); the one place a command's
    result becomes an error.

    CommandError when it cannot start, times out or exits non-zero; its message names `dest`
    (when given) and `what`, and carries the output on one line: `DEST: WHAT exited N: OUTPUT`.
    """
    where = f"{dest}: " if dest is not None else ""
    try:
        result = run_command(command, timeout=timeout)
    except CommandError as e:
        message = f"{where}{what} {e.message}"
        raise CommandError(message, command=e.command, output=e.output) from None
    if result.status != 0:
        raise CommandError(
            f"{where}{what} exited {result.status}: {one_line(result.output)}",
            command=result.command,
            status=result.status,
            output=result.output,
        )
    return result


def one_line(output: str) -> str:
    """A command's output on one line for a message: lines joined by ` | `, cut to 500."""
    text = " | ".join(line for line in output.splitlines() if line.strip())
    return text[:500] if text else "(no output)"


class _Output:
    """The first bytes of a command's output, and how many more there were."""

    def __init__(self, limit: int = OUTPUT_LIMIT * 4) -> None:
        self._kept = bytearray()
        self._limit = limit
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self._limit - len(self._kept)
        self._kept += data[:room]
        self.dropped += max(len(data) - room, 0)

    def text(self) -> str:
        text = self._kept.decode("utf-8", errors="replace").strip()
        if len(text) > OUTPUT_LIMIT or self.dropped:
            text = text[:OUTPUT_LIMIT] + " ... [output cut]"
        return text


def _collect(proc: subprocess.Popen[bytes], output: _Output, deadline: float) -> bool:
    """Read `proc`'s output until it exits (then for DRAIN_GRACE at most) or `deadline`.

    Returns whether the command exited before the deadline.
    """
    assert proc.stdout is not None
    pipe = proc.stdout.fileno()
    os.set_blocking(pipe, False)
    with selectors.DefaultSelector() as selector, _exit_fd(proc) as exit_fd:
        selector.register(pipe, selectors.EVENT_READ)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ)
        pipe_open = True
        exited_at: float | None = None
        while True:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
                if exit_fd is not None:
                    selector.unregister(exit_fd)  # stays readable: would spin the drain
            if exited_at is not None:
                if not pipe_open or now >= exited_at + DRAIN_GRACE:
                    return True
                wait = exited_at + DRAIN_GRACE - now
            elif now >= deadline:
                return False
            else:
                wait = deadline - now if exit_fd is not None else min(deadline - now, _TICK)
            for key, _ in selector.select(wait):
                if key.fd == pipe and not _read(pipe, output):
                    selector.unregister(pipe)
                    pipe_open = False
            if not pipe_open and exited_at is None:
                # Output closed, command still running: only its exit or the deadline is left.
                try:
                    proc.wait(timeout=max(deadline - time.monotonic(), 0))
                except subprocess.TimeoutExpired:
                    return False
                return True


def _read(fd: int, output: _Output) -> bool:
    """Read what is there; False at end of file."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return True
    output.add(data)
    return bool(data)


@contextlib.contextmanager
def _exit_fd(proc: subprocess.Popen[bytes]) -> Iterator[int | None]:
    """A pidfd that becomes readable when `proc` exits (Linux 5.3+), or None."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _close_pipe(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdout is not None:
        proc.stdout.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


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
        os.kill(pid, parse_signal(signame))
    except ProcessLookupError:
        raise ProcessError(f"{pidfile}: process {pid} is not running") from None
    except PermissionError:
        raise ProcessError(f"{pidfile}: not allowed to signal process {pid}") from None
    return pid


# -- supervised children: start, signal, wait statuses ----------------------------------------


def parse_signal(name: str, *, field: str = "signal") -> signal.Signals:
    """`HUP`, `SIGHUP` or `hup` -> signal.SIGHUP; ConfigError naming `field` otherwise."""
    text = name.strip().upper()
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return signal.Signals[text]
    except KeyError:
        raise ConfigError(f"unknown signal name {name!r}", field=field) from None


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N after signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def start_session(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own, with our stdio; ProcessError saying why not."""
    name = argv[0]
    try:
        return subprocess.Popen(
            list(argv), start_new_session=True, env=dict(env) if env is not None else None, cwd=cwd
        )
    except FileNotFoundError as e:
        if cwd is not None and e.filename == cwd:
            raise ProcessError(f"cannot start {name!r}: no directory {cwd}") from None
        raise ProcessError(f"cannot start {name!r}: command not found") from None
    except PermissionError:
        raise ProcessError(
            f"cannot start {name!r}: permission denied (is it an executable file?)"
        ) from None
    except OSError as e:
        raise ProcessError(f"cannot start {name!r}: {e.strerror or e}") from None


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group `pid` leads, or to `pid` alone if it left the group.

    False when not permitted; a process already gone is not an error.
    """
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        # The child left its group (setpgid/setsid of its own): signal it alone.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    except PermissionError:
        return False
    return True


_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def set_subreaper(on: bool) -> int | None:
    """Make orphaned descendants re-parent to us; return the previous setting, or None.

    PID 1 gets orphans anyway; outside a container (and in tests) this is what lets a
    supervisor reap grandchildren. Linux only; elsewhere orphans go to init as usual.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: only a supervisor needs it, not every run that imports this

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    previous = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0) != 0:
        return None
    if prctl(_PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(int(on)), 0, 0, 0) != 0:
        return None
    return previous.value
