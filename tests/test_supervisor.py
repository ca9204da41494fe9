"""The `confpy exec` supervisor, with real child processes and real signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from confpy.backoff import Backoff
from confpy.errors import ConfigError, ProcessError
from confpy.supervise.process import exit_code, parse_signal
from confpy.supervise.supervisor import Supervisor

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process model")

# A child that behaves like a reloadable service: it records every signal it handles in a
# marker file named SIGNAME-PID, says it is ready once its handlers are in place, and exits
# with argv[2] (default 0) on SIGTERM.
SERVICE = """
import os, pathlib, signal, sys
out = pathlib.Path(sys.argv[1])
term_exit = int(sys.argv[2]) if len(sys.argv) > 2 else 0

def mark(name, text=""):
    tmp = out / (name + ".tmp")
    tmp.write_text(text)
    tmp.rename(out / name)

def on_signal(signum, frame):
    mark(f"{signal.Signals(signum).name}-{os.getpid()}")
    if signum == signal.SIGTERM:
        sys.exit(term_exit)

for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
    signal.signal(sig, on_signal)
with open(out / "pids", "a") as f:
    f.write(f"{os.getpid()}\\n")
mark("pid", str(os.getpid()))
mark(f"ready-{os.getpid()}")
while True:
    signal.pause()
"""

# Runs a Supervisor in its own process, so the tests can signal a real supervisor.
# argv: OUT_DIR JSON_CONFIG; config holds Supervisor keyword arguments plus argv and mode.
DRIVER = """
import json, os, pathlib, signal, sys, time
from confpy.backoff import Backoff
from confpy.supervise.supervisor import Supervisor

out = pathlib.Path(sys.argv[1])
config = json.loads(sys.argv[2])
argv, mode = config.pop("argv"), config.pop("mode", "")
sup = Supervisor(argv, **config)

def on_stop():
    (out / "on_stop").write_text("")

if mode == "signal-before-start":
    sup.catch_signals()
    os.kill(os.getpid(), signal.SIGTERM)
elif mode == "usr1-before-start":
    sup.catch_signals()
    os.kill(os.getpid(), signal.SIGUSR1)
elif mode == "signal-before-run":
    pid = sup.start()
    deadline = time.monotonic() + 3
    while not (out / f"ready-{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGUSR1)
sys.exit(sup.run(on_stop))
"""


def wait_for(predicate: Callable[[], object], timeout: float = 3.0, what: str = "it") -> object:
    """Poll `predicate` every 15 ms until it is truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.015)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def gone(pid: int) -> bool:
    """True once `pid` is no process at all: exited and reaped (a zombie still counts)."""
    return not Path(f"/proc/{pid}").exists()


def proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Directory where child scripts leave their marker files."""
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def service(tmp_path: Path, out: Path) -> list[str]:
    """argv of the reloadable service child, writing its markers to `out`."""
    return [sys.executable, str(script(tmp_path, "service.py", SERVICE)), str(out)]


def child_pid(out: Path) -> int:
    return int(wait_for(lambda: (out / "pid").exists() and (out / "pid").read_text(), what="pid"))


def supervise(
    sup: Supervisor, scenario: Callable[[], None], on_stop: Callable[[], object] = lambda: None
) -> int:
    """Run `sup` on this (main) thread while `scenario` drives it from another; then stop it."""
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            scenario()
        except BaseException as e:
            errors.append(e)
        finally:
            sup.stop()

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    code = sup.run(on_stop)
    thread.join(5)
    if errors:
        raise errors[0]
    return code


@pytest.fixture
def driver(tmp_path: Path, out: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a supervisor in its own process: driver(argv, **Supervisor kwargs)."""
    path = script(tmp_path, "driver.py", DRIVER)
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], **config: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, str(path), str(out), json.dumps({"argv": argv, **config})],
            stdout=subprocess.DEVNULL,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pids = out / "pids"
    if pids.exists():
        for line in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(line), signal.SIGKILL)


# -- starting ---------------------------------------------------------------------------------


def test_missing_command_raises_process_error() -> None:
    """A command that does not exist cannot start, and the message names it."""
    sup = Supervisor(["/nonexistent/confpy-test-cmd", "arg"])
    with pytest.raises(ProcessError, match=r"'/nonexistent/confpy-test-cmd': command not found"):
        sup.start()
    assert sup.pid is None


def test_non_executable_command_raises_process_error(tmp_path: Path) -> None:
    """A file without the execute bit cannot start, and the message says why."""
    path = tmp_path / "not-executable"
    path.write_text("#!/bin/sh\n")
    with pytest.raises(ProcessError, match="permission denied"):
        Supervisor([str(path)]).start()


def test_unknown_signal_name_is_a_config_error() -> None:
    """A misspelt reload signal is rejected when the supervisor is built."""
    with pytest.raises(ConfigError, match="unknown signal name 'HUPP'"):
        Supervisor(["true"], reload_signal="HUPP")


def test_signal_names_accept_short_long_and_lower_case() -> None:
    """HUP, SIGHUP and hup all name SIGHUP."""
    assert parse_signal("HUP") == parse_signal("SIGHUP") == parse_signal("hup") == signal.SIGHUP


def test_exit_code_of_a_signalled_process_is_128_plus_the_signal() -> None:
    """A wait status for death by SIGKILL maps to 137, a plain exit to its code."""
    assert exit_code(signal.SIGKILL) == 137
    assert exit_code(3 << 8) == 3


# -- the child ends on its own -------------------------------------------------------------------


def test_child_exit_code_is_returned(tmp_path: Path) -> None:
    """A child that exits 3 makes run() return 3."""
    child = script(tmp_path, "exit3.py", "import sys; sys.exit(3)")
    assert Supervisor([sys.executable, str(child)]).run() == 3


def test_child_killed_by_sigkill_gives_137(tmp_path: Path) -> None:
    """A child that dies of SIGKILL makes run() return 128+9."""
    child = script(tmp_path, "die.py", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert Supervisor([sys.executable, str(child)]).run() == 137


def test_respawn_restarts_a_child_that_exits(tmp_path: Path, out: Path) -> None:
    """With respawn, a child that exits is started again (here three times) until stopped."""
    child = script(
        tmp_path,
        "flaky.py",
        """
        import os, sys
        with open(sys.argv[1] + "/pids", "a") as f:
            f.write(f"{os.getpid()}\\n")
        sys.exit(1)
        """,
    )
    sup = Supervisor(
        [sys.executable, str(child), str(out)], respawn=True, backoff=Backoff(0.0, 0.0)
    )

    def three_children() -> None:
        pids = lambda: (out / "pids").exists() and (out / "pids").read_text().split()  # noqa: E731
        started = wait_for(lambda: len(pids() or []) >= 3 and pids(), what="three children")
        assert len(set(started)) == len(started)

    supervise(sup, three_children)


def test_stop_during_respawn_backoff_returns_at_once(tmp_path: Path, out: Path) -> None:
    """stop() while a respawn waits out its backoff ends run() with 128+SIGTERM, no new child."""
    child = script(
        tmp_path,
        "once.py",
        """
        import os, sys
        with open(sys.argv[1] + "/pids", "a") as f:
            f.write(f"{os.getpid()}\\n")
        sys.exit(1)
        """,
    )
    sup = Supervisor(
        [sys.executable, str(child), str(out)], respawn=True, backoff=Backoff(60.0, 60.0)
    )
    started = time.monotonic()

    def exit_once() -> None:
        wait_for((out / "pids").exists, what="the first child")
        wait_for(lambda: sup.pid is None, what="the first child to be reaped")

    assert supervise(sup, exit_once) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    assert len((out / "pids").read_text().split()) == 1


def test_on_stop_is_called_when_shutdown_begins(service: list[str], out: Path) -> None:
    """run() calls on_stop once shutdown begins (here it sets an Event)."""
    stopping = threading.Event()
    sup = Supervisor(service, kill_timeout=2)
    assert supervise(sup, lambda: child_pid(out) and None, on_stop=stopping.set) == 0
    assert stopping.is_set()


# -- notify() ----------------------------------------------------------------------------------


def test_notify_sends_the_reload_signal_to_the_child(service: list[str], out: Path) -> None:
    """notify() from another thread delivers SIGHUP to the child, which keeps running."""
    sup = Supervisor(service, kill_timeout=2)

    def reload() -> None:
        pid = child_pid(out)
        sup.notify()
        wait_for((out / f"SIGHUP-{pid}").exists, what="the child to handle SIGHUP")
        assert sup.pid == pid

    supervise(sup, reload)


def test_notify_uses_the_configured_reload_signal(service: list[str], out: Path) -> None:
    """With reload_signal=USR2 the child gets SIGUSR2 and no SIGHUP."""
    sup = Supervisor(service, reload_signal="USR2", kill_timeout=2)

    def reload() -> None:
        pid = child_pid(out)
        sup.notify()
        wait_for((out / f"SIGUSR2-{pid}").exists, what="the child to handle SIGUSR2")
        assert not (out / f"SIGHUP-{pid}").exists()

    supervise(sup, reload)


def test_notify_with_restart_replaces_the_child(service: list[str], out: Path) -> None:
    """With restart=True, notify() stops the child and starts a new one; run() goes on."""
    sup = Supervisor(service, restart=True, kill_timeout=2)
    pids: list[int] = []

    def restart() -> None:
        old = child_pid(out)
        sup.notify()
        new = wait_for(lambda: sup.pid not in (None, old) and sup.pid, what="a new child")
        assert isinstance(new, int)
        wait_for((out / f"ready-{new}").exists, what="the new child to be ready")
        wait_for(lambda: gone(old), what=f"old child {old} to be reaped")
        assert (out / f"SIGTERM-{old}").exists()
        pids.extend([old, new])

    code = supervise(sup, restart)
    assert code == 0  # the new child's own exit on stop(), not the restart
    assert (out / f"SIGTERM-{pids[1]}").exists()


def test_restart_kills_a_child_that_ignores_the_kill_signal(tmp_path: Path, out: Path) -> None:
    """A child that ignores SIGTERM on restart gets SIGKILL after kill_timeout."""
    stubborn = script(
        tmp_path,
        "stubborn.py",
        """
        import os, pathlib, signal, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path(sys.argv[1], f"ready-{os.getpid()}").write_text("")
        while True:
            signal.pause()
        """,
    )
    sup = Supervisor([sys.executable, str(stubborn), str(out)], restart=True, kill_timeout=0.3)

    def restart() -> None:
        old = wait_for(lambda: sup.pid, what="the first child")
        wait_for((out / f"ready-{old}").exists, what="the first child to be ready")
        sup.notify()
        new = wait_for(lambda: sup.pid not in (None, old) and sup.pid, what="a new child")
        wait_for((out / f"ready-{new}").exists, what="the new child to be ready")
        assert gone(old)

    assert supervise(sup, restart) == 137  # stop() meets the same stubborn child


# -- signals to the supervisor ------------------------------------------------------------------


def test_sigterm_reaches_the_child_and_its_exit_code_is_returned(
    driver: Callable[..., subprocess.Popen[bytes]], service: list[str], out: Path
) -> None:
    """SIGTERM to the supervisor is forwarded; it calls on_stop and exits with the child's code."""
    sup = driver([*service, "42"], kill_timeout=3)
    pid = child_pid(out)
    wait_for((out / f"ready-{pid}").exists, what="the child to be ready")
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=4) == 42
    assert (out / f"SIGTERM-{pid}").exists()
    assert (out / "on_stop").exists()
    assert gone(pid)


def test_other_signals_are_forwarded_and_do_not_stop(
    driver: Callable[..., subprocess.Popen[bytes]], service: list[str], out: Path
) -> None:
    """SIGHUP and SIGUSR1 to the supervisor reach the child; the supervisor keeps running."""
    sup = driver(service, kill_timeout=3)
    pid = child_pid(out)
    wait_for((out / f"ready-{pid}").exists, what="the child to be ready")
    for sig in (signal.SIGHUP, signal.SIGUSR1):
        sup.send_signal(sig)
        wait_for((out / f"{sig.name}-{pid}").exists, what=f"the child to handle {sig.name}")
    assert sup.poll() is None
    assert not (out / "on_stop").exists()


def test_child_ignoring_sigterm_is_killed_after_kill_timeout(
    driver: Callable[..., subprocess.Popen[bytes]], tmp_path: Path, out: Path
) -> None:
    """On SIGTERM the supervisor waits kill_timeout, then SIGKILLs the group and exits 137."""
    stubborn = script(
        tmp_path,
        "stubborn.py",
        """
        import os, pathlib, signal, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path(sys.argv[1], "pid").write_text(str(os.getpid()))
        while True:
            signal.pause()
        """,
    )
    sup = driver([sys.executable, str(stubborn), str(out)], kill_timeout=0.5)
    pid = child_pid(out)
    started = time.monotonic()
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=4) == 137
    assert time.monotonic() - started >= 0.5
    assert gone(pid)


def test_signal_before_run_is_forwarded_once_run_starts(
    driver: Callable[..., subprocess.Popen[bytes]], service: list[str], out: Path
) -> None:
    """A signal that arrives between start() and run() is not lost: the child still gets it."""
    driver(service, kill_timeout=2, mode="signal-before-run")
    pid = child_pid(out)
    wait_for((out / f"SIGUSR1-{pid}").exists, what="the child to handle SIGUSR1")


def test_signal_before_the_child_starts_is_passed_on_to_it(
    driver: Callable[..., subprocess.Popen[bytes]], service: list[str], out: Path
) -> None:
    """A SIGUSR1 caught before the child exists is sent to it once it starts (as dumb-init)."""
    sup = driver(service, kill_timeout=2, mode="usr1-before-start")
    # The child gets it so early that it may die of it before its handler is in place.
    died_of_it = lambda: sup.poll() == 128 + signal.SIGUSR1  # noqa: E731
    handled_it = lambda: any(out.glob("SIGUSR1-*"))  # noqa: E731
    wait_for(lambda: died_of_it() or handled_it(), what="the child to get SIGUSR1")


def test_sigterm_before_the_child_starts_stops_without_starting_it(
    driver: Callable[..., subprocess.Popen[bytes]], service: list[str], out: Path
) -> None:
    """A SIGTERM caught before the child exists ends the run with 143 and no child."""
    sup = driver(service, mode="signal-before-start")
    assert sup.wait(timeout=4) == 143
    assert (out / "on_stop").exists()
    assert not (out / "pid").exists()


# -- reaping -------------------------------------------------------------------------------------


def test_orphaned_grandchild_is_reaped(tmp_path: Path, out: Path) -> None:
    """A grandchild orphaned by its parent is re-parented to the supervisor and reaped."""
    forker = script(
        tmp_path,
        "forker.py",
        """
        import os, pathlib, signal, sys, time
        out = pathlib.Path(sys.argv[1])
        middle = os.fork()
        if middle == 0:
            middle = os.getpid()
            grandchild = os.fork()
            if grandchild == 0:
                while os.getppid() == middle:  # outlive the middle process
                    time.sleep(0.01)
                (out / "adopted.tmp").write_text(str(os.getppid()))
                (out / "adopted.tmp").rename(out / "adopted")
                os._exit(0)  # exit as an orphan
            (out / "grandchild.tmp").write_text(str(grandchild))
            (out / "grandchild.tmp").rename(out / "grandchild")
            os._exit(0)
        os.waitpid(middle, 0)
        while True:
            signal.pause()
        """,
    )
    sup = Supervisor([sys.executable, str(forker), str(out)], kill_timeout=2)

    def orphan_reaped() -> None:
        text = wait_for(
            lambda: (out / "grandchild").exists() and (out / "grandchild").read_text(),
            what="the grandchild's pid",
        )
        grandchild = int(str(text))
        adopter = wait_for(
            lambda: (out / "adopted").exists() and (out / "adopted").read_text(),
            what="the grandchild to be orphaned",
        )
        assert int(str(adopter)) == os.getpid(), "the supervisor should adopt orphans"
        wait_for(
            lambda: gone(grandchild),
            what=f"orphan {grandchild} to be reaped (state {proc_state(grandchild)})",
        )

    supervise(sup, orphan_reaped)


def test_reaping_paused_leaves_other_subprocess_status_intact(service: list[str]) -> None:
    """A command run inside reaping_paused() keeps its own exit status."""
    sup = Supervisor(service, kill_timeout=2)
    codes: list[int] = []

    def run_commands() -> None:
        wait_for(lambda: sup.pid, what="the child")
        for _ in range(5):
            with sup.reaping_paused():
                codes.append(subprocess.run(["sh", "-c", "exit 5"], check=False).returncode)

    supervise(sup, run_commands)
    assert codes == [5] * 5


def test_run_restores_signal_handlers(tmp_path: Path) -> None:
    """After run() returns, SIGTERM and SIGCHLD are handled as they were before."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGCHLD)
    child = script(tmp_path, "ok.py", "pass")
    assert Supervisor([sys.executable, str(child)]).run() == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGCHLD)) == before
