"""`confpy exec -- CMD` and per-resource process control, with real children and a real etcd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

from confpy.store import EtcdStore
from tests.children import child_script, lines, pids_started
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree, signal_another_thread

pytestmark = pytest.mark.etcd


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes stopped as an operator would: SIGTERM (forwarded to the child), then SIGKILL."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate(timeout=20)


def gone(pid: int) -> bool:
    """Reaped: not even a zombie is left."""
    return not os.path.exists(f"/proc/{pid}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_child_gets_reload_signal_after_a_change_and_reads_the_new_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """A key change installs the file, then the child gets SIGHUP and sees the new content."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    log = tree.root / "child.log"
    store.put("/app/v", b"1")
    procs.append(
        p := confpy.start(
            "exec",
            "--confdir",
            str(tree.confdir),
            "--",
            sys.executable,
            str(child_script(tree)),
            str(log),
            str(dest),
        )
    )
    wait_for(lambda: pids_started(log), what="the child to start")
    assert dest.read_text() == "v=1"
    store.put("/app/v", b"2")
    wait_for(lambda: "HUP v=2" in lines(log), what="the child to be signalled after the change")
    assert p.poll() is None


def test_restart_replaces_the_child_after_a_change(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """--restart: a new child PID after a change, and the old child is gone."""
    dest = tree.simple("app", "v={{ getv('/app/v') }}", ["/app"])
    log = tree.root / "child.log"
    store.put("/app/v", b"1")
    procs.append(
        confpy.start(
            "exec",
            "--restart",
            "--kill-timeout",
            "5s",
            "--confdir",
            str(tree.confdir),
            "--",
            sys.executable,
            str(child_script(tree)),
            str(log),
            str(dest),
        )
    )
    first = wait_for(lambda: pids_started(log), what="the child to start")[0]  # type: ignore[index]
    store.put("/app/v", b"2")
    pids = wait_for(lambda: len(p := pids_started(log)) == 2 and p, what="a second child")
    assert pids[1] != first  # type: ignore[index]
    wait_for(lambda: gone(first), what="the old child to be gone and reaped")


def to_process(pid: int, sig: int) -> None:
    os.kill(pid, sig)


@pytest.mark.parametrize(
    "deliver", [to_process, signal_another_thread], ids=["to-the-process", "to-a-non-main-thread"]
)
def test_sigterm_reaches_the_child_and_its_exit_code_is_confpys(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    procs: list[subprocess.Popen[str]],
    deliver: Callable[[int, int], object],
) -> None:
    """SIGTERM to confpy is forwarded, whichever of its threads the kernel hands it to;
    confpy exits with the child's code."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    log = tree.root / "child.log"
    store.put("/app/v", b"1")
    procs.append(
        p := confpy.start(
            "exec",
            "--confdir",
            str(tree.confdir),
            "--",
            sys.executable,
            str(child_script(tree)),
            str(log),
            str(dest),
            "42",
        )
    )
    wait_for(lambda: pids_started(log), what="the child to start")
    deliver(p.pid, signal.SIGTERM)
    assert p.wait(timeout=20) == 42
    assert "TERM" in lines(log)


def test_sigterm_while_waiting_for_keys_exits_without_starting_the_child(
    confpy: Confpy, tree: ConfTree
) -> None:
    """Stopped before the keys appear: exit 143 at once, and CMD never runs."""
    tree.simple("app", "{{ getv('/not/yet') }}", ["/not"])
    marker, err = tree.root / "ran", tree.root / "stderr"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "confpy",
                "exec",
                "--confdir",
                str(tree.confdir),
                "--wait-for-keys",
                "10m",
                "--",
                "touch",
                str(marker),
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=confpy.env(),
        )
    try:
        wait_for(lambda: "waiting for keys" in err.read_text(), timeout=20, what="the key wait")
        signal_another_thread(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not marker.exists()


def test_child_exit_code_becomes_confpys(confpy: Confpy, tree: ConfTree, store: EtcdStore) -> None:
    """A child that exits 3 makes confpy exit 3."""
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    result = confpy.run("exec", "--confdir", str(tree.confdir), "--", "sh", "-c", "exit 3")
    assert result.returncode == 3, result.stderr


def test_orphaned_grandchild_is_reaped(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """A grandchild whose parent exits is adopted and reaped: no zombie is left."""
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    store.put("/app/v", b"1")
    pidfile = tree.root / "grandchild.pid"
    script = tree.root / "orphaner.py"
    # sh starts `sleep` in the background and exits at once: sleep is orphaned and
    # re-parented to confpy, the only process that can reap it when it ends.
    script.write_text(
        textwrap.dedent(f"""\
        import subprocess, time
        subprocess.run(["sh", "-c", "sleep 0.5 & echo $! > {pidfile}"], check=True)
        time.sleep(60)
        """)
    )
    procs.append(
        p := confpy.start("exec", "--confdir", str(tree.confdir), "--", sys.executable, str(script))
    )
    pid = int(
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the grandchild")
    )  # type: ignore[arg-type]
    wait_for(lambda: gone(pid), timeout=10, what="the orphan to be reaped (not left a zombie)")
    assert p.poll() is None


def test_render_failure_at_start_means_the_child_never_starts(
    confpy: Confpy, tree: ConfTree
) -> None:
    """If the first render fails, CMD is not run and confpy says why."""
    tree.simple("app", "{{ getv('/missing') }}", ["/missing"])
    marker = tree.root / "ran"
    result = confpy.run("exec", "--confdir", str(tree.confdir), "--", "touch", str(marker))
    assert result.returncode == 1
    assert "not starting touch: the first render failed" in result.stderr
    assert not marker.exists()


def test_hanging_reload_is_killed_and_the_next_change_still_applies(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """A reload command outliving command_timeout is killed (with its group) and reported."""
    dest = tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        extra='reload_cmd = "sleep 60"\ncommand_timeout = "500ms"\n',
    )
    other = tree.simple("other", "{{ getv('/other') }}", ["/other"])
    store.put("/app/v", b"1")
    store.put("/other", b"a")
    procs.append(p := confpy.start("render", "--watch", "--confdir", str(tree.confdir)))
    wait_for(lambda: dest.exists() and dest.read_text() == "1", what="first render")
    store.put("/app/v", b"2")
    store.put("/other", b"b")
    wait_for(lambda: other.exists() and other.read_text() == "b", what="the next change")
    assert dest.read_text() == "2"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert "timed out after 0.5s and was killed" in err


def test_reload_signal_goes_to_the_process_in_the_pidfile(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """reload_signal + pidfile signal a process confpy does not supervise."""
    dest = tree.root / "out" / "app"
    log = tree.root / "child.log"
    pidfile = tree.root / "app.pid"
    procs.append(
        child := subprocess.Popen(
            [sys.executable, str(child_script(tree)), str(log), str(dest)], text=True
        )
    )
    wait_for(lambda: pids_started(log), what="the service to start")
    pidfile.write_text(str(child.pid))
    tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        extra=f'reload_signal = "HUP"\npidfile = "{pidfile}"\n',
    )
    store.put("/app/v", b"signalled")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "HUP signalled" in lines(log), what="the signal")


def test_array_command_runs_without_a_shell(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """reload_cmd as an array: shell metacharacters are plain arguments."""
    out = tree.root / "args"
    script = tree.root / "args.py"
    script.write_text(f"import sys; open({str(out)!r}, 'w').write('|'.join(sys.argv[1:]))")
    tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        extra=f'reload_cmd = ["{sys.executable}", "{script}", "$HOME", "a;b", "{{{{ dest }}}}"]\n',
    )
    store.put("/app/v", b"1")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == f"$HOME|a;b|{tree.out / 'app'}"


def test_exec_notify_false_keeps_a_file_from_signalling_the_child(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, procs: list[subprocess.Popen[str]]
) -> None:
    """A resource with exec_notify = false changes its file without signalling the child."""
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    quiet = tree.simple("quiet", "{{ getv('/quiet') }}", ["/quiet"], extra="exec_notify = false\n")
    log = tree.root / "child.log"
    store.put("/app/v", b"1")
    store.put("/quiet", b"a")
    procs.append(
        confpy.start(
            "exec",
            "--confdir",
            str(tree.confdir),
            "--",
            sys.executable,
            str(child_script(tree)),
            str(log),
            str(dest),
        )
    )
    wait_for(lambda: pids_started(log), what="the child to start")
    store.put("/quiet", b"b")
    wait_for(lambda: quiet.read_text() == "b", what="the quiet file")
    store.put("/app/v", b"2")
    wait_for(lambda: "HUP 2" in lines(log), what="the signal for the notifying file")
    assert [x for x in lines(log) if x.startswith("HUP")] == ["HUP 2"]


def test_exec_without_a_command_is_a_usage_error(confpy_offline: Confpy) -> None:
    """`confpy exec` with nothing after -- says what is missing."""
    result = confpy_offline.run("exec", "--")
    assert result.returncode == 2
    assert "no command given" in result.stderr


def test_pidfile_naming_a_dead_process_fails_the_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A stale pidfile is reported as a reload failure, not ignored."""
    pidfile = tree.root / "stale.pid"
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile.write_text(str(dead.pid))
    tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        extra=f'reload_signal = "HUP"\npidfile = "{pidfile}"\n',
    )
    store.put("/app/v", b"1")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode == 1
    assert f"process {dead.pid} is not running" in result.stderr
    assert os.path.exists(tree.out / "app")
