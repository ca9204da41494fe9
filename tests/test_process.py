"""Operator commands never block confpy: `run_command`'s timeout holds whatever the command does.

Real processes throughout. Wall time is bounded by polling a deadline (`wait_for`) on the
thread running the command, never by asserting on measured durations.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from confpy.errors import CommandError
from confpy.store import EtcdStore
from confpy.supervise.process import CommandResult, run_checked, run_command
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

LONG = 30  # seconds a stray process would live: far beyond every bound below


class Finished:
    """`run_command` in a thread: its result or error once `done` turns true."""

    def __init__(self, command: str | tuple[str, ...], timeout: float) -> None:
        self.result: CommandResult | None = None
        self.error: CommandError | None = None
        self._thread = threading.Thread(target=self._run, args=(command, timeout), daemon=True)
        self._thread.start()

    def _run(self, command: str | tuple[str, ...], timeout: float) -> None:
        try:
            self.result = run_command(command, timeout=timeout)
        except CommandError as e:
            self.error = e

    def done(self) -> bool:
        return not self._thread.is_alive()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _is_zombie(pid)


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` still runs (zombies waiting for a reaper do not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def read_pid(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip(), what=f"{path.name}")
    return int(path.read_text())


@pytest.fixture
def strays(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Pidfiles for processes a test leaves behind on purpose; they are killed afterwards."""
    made: list[Path] = []

    def pidfile(name: str) -> Path:
        made.append(tmp_path / f"{name}.pid")
        return made[-1]

    yield pidfile
    for path in made:
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.killpg(int(path.read_text()), signal.SIGKILL)


@pytest.mark.parametrize("held", ["stdout", "stderr"])
def test_a_setsid_child_holding_the_output_does_not_delay_a_finished_command(
    strays: Callable[[str], Path], held: str
) -> None:
    """An init script that starts a daemon returns as soon as the script exits."""
    pid = strays("daemon")
    close = "2>/dev/null" if held == "stdout" else ">/dev/null"
    script = f"setsid sh -c 'echo $$ > {pid}; exec sleep {LONG}' {close} & echo started; exit 0"
    run = Finished(script, timeout=LONG)
    wait_for(run.done, timeout=5, what="the command to return")
    assert run.result is not None
    assert (run.result.status, run.result.output) == (0, "started")
    assert alive(read_pid(pid)), "the daemon the script started is left running"


def test_a_setsid_child_holding_the_output_does_not_stretch_the_timeout(
    strays: Callable[[str], Path],
) -> None:
    """A command that hangs is killed at its timeout even though an escaped child keeps the pipe."""
    pid = strays("daemon")
    script = f"setsid sh -c 'echo $$ > {pid}; exec sleep {LONG}' & sleep {LONG}"
    run = Finished(script, timeout=0.5)
    wait_for(run.done, timeout=5, what="the timeout to hold")
    assert run.error is not None and "timed out after 0.5s" in run.error.message


def test_a_command_ignoring_sigterm_is_killed_at_its_timeout(strays: Callable[[str], Path]) -> None:
    """The timeout kills with SIGKILL, which a command cannot trap."""
    pid = strays("leader")
    run = Finished(f"trap '' TERM; echo $$ > {pid}; sleep {LONG}", timeout=0.5)
    wait_for(run.done, timeout=5, what="the timeout to hold")
    assert run.error is not None
    wait_for(lambda: not group_alive(read_pid(pid)), timeout=5, what="the group to die")


def test_a_timeout_kills_every_process_of_the_group_even_double_forked(
    strays: Callable[[str], Path],
) -> None:
    """Grandchildren orphaned by a double fork (no setsid) stay in the group and die with it."""
    pid = strays("leader")
    forks = "; ".join(f"(sleep {LONG} &)" for _ in range(20))
    run = Finished(f"echo $$ > {pid}; {forks}; sleep {LONG}", timeout=0.5)
    wait_for(run.done, timeout=5, what="the timeout to hold")
    assert run.error is not None
    wait_for(lambda: not group_alive(read_pid(pid)), timeout=5, what="every forked process to die")


def test_a_double_forked_child_holding_the_output_does_not_delay_a_finished_command(
    strays: Callable[[str], Path],
) -> None:
    """`(svc &)` leaves an orphan in the group with the pipe open: the command still returns."""
    pid = strays("leader")
    run = Finished(f"echo $$ > {pid}; (sleep {LONG} &); exit 3", timeout=LONG)
    wait_for(run.done, timeout=5, what="the command to return")
    assert run.result is not None and run.result.status == 3


def test_output_of_both_streams_is_kept_in_order() -> None:
    """stdout and stderr are one stream, as the operator would see them in a terminal."""
    result = run_command("echo one; echo two >&2; echo three", timeout=LONG)
    assert result.output.splitlines() == ["one", "two", "three"]


def test_endless_output_is_cut_and_does_not_fill_memory() -> None:
    """A command writing without end is read to its timeout and keeps only the first bytes."""
    with pytest.raises(CommandError) as caught:
        run_command("yes confpy", timeout=0.5)
    assert caught.value.output.endswith("[output cut]")
    assert len(caught.value.output) < 5000


def test_a_command_that_closes_its_output_is_still_timed_out() -> None:
    """Closing stdout does not end the wait: the command's exit or its deadline does."""
    run = Finished(f"exec >&- 2>&-; sleep {LONG}", timeout=0.5)
    wait_for(run.done, timeout=5, what="the timeout to hold")
    assert run.error is not None


def test_a_failed_step_is_one_error_naming_destination_step_status_and_output() -> None:
    """check, reload and restart commands all fail through `run_checked`, with one message."""
    with pytest.raises(CommandError) as caught:
        run_checked(
            "echo bad; echo worse >&2; exit 4", timeout=LONG, what="reload_cmd", dest="/etc/app"
        )
    assert caught.value.message == "/etc/app: reload_cmd exited 4: bad | worse"
    assert (caught.value.status, caught.value.output) == (4, "bad\nworse")


def test_a_timed_out_step_names_destination_and_step() -> None:
    with pytest.raises(CommandError, match=r"^/etc/app: check_cmd command timed out after 0.2s"):
        run_checked(f"sleep {LONG}", timeout=0.2, what="check_cmd", dest="/etc/app")


def test_a_command_that_cannot_start_is_an_error() -> None:
    with pytest.raises(CommandError, match="cannot run"):
        run_command(("/nonexistent/confpy-test",), timeout=1)


@pytest.mark.etcd
def test_onetime_returns_at_once_when_a_reload_leaves_a_daemon_on_stdout(
    confpy: Confpy, tmp_path: Path, strays: Callable[[str], Path]
) -> None:
    """Issue 10.5: `render --onetime` with a reload that daemonises is not held by the daemon."""
    pid = strays("daemon")
    tree = ConfTree(tmp_path)
    reload = f"setsid sh -c 'echo $$ > {pid}; exec sleep {LONG}' & echo reloaded"
    tree.simple(
        "app", "static", ["/app"], extra=f'reload_cmd = "{reload}"\ncommand_timeout = "2s"\n'
    )
    proc = confpy.start("render", "--onetime", "--confdir", str(tree.confdir))
    try:
        wait_for(lambda: proc.poll() is not None, timeout=15, what="confpy to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert (tree.out / "app").read_text() == "static"


@pytest.mark.etcd
def test_watch_daemon_goes_on_rendering_while_a_reload_left_a_daemon_on_stdout(
    confpy: Confpy, store: EtcdStore, tmp_path: Path, strays: Callable[[str], Path]
) -> None:
    """Issue 10.5: a reload that daemonises does not stop the other resources from following etcd."""
    pid = strays("daemon")
    tree = ConfTree(tmp_path)
    reload = f"setsid sh -c 'echo $$ > {pid}; exec sleep {LONG}' & echo reloaded"
    a = tree.simple("a", "{{ getv('/a') }}", ["/a"], extra=f'reload_cmd = "{reload}"\n')
    b = tree.simple("b", "{{ getv('/b') }}", ["/b"])
    store.put("/a", b"1")
    store.put("/b", b"1")
    proc = confpy.start("render", "--watch", "--confdir", str(tree.confdir))
    try:
        wait_for(lambda: a.exists() and b.exists(), timeout=15, what="the first render")
        store.put("/a", b"2")
        wait_for(lambda: a.read_text() == "2" and pid.exists(), timeout=15, what="a's reload")
        store.put("/b", b"2")
        wait_for(lambda: b.read_text() == "2", timeout=10, what="b to follow etcd")
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
