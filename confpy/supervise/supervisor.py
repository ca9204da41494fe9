"""Supervise one child (of `confpy exec` or `confpy register -- CMD`): start it, forward
signals, reload or restart it.

Modelled on dumb-init so that confpy can be a container's PID 1: the child runs in its own
session and every forwarded signal goes to its whole process group; every zombie that lands
on us (the child, or orphaned grandchildren re-parented to us as PID 1 or as a Linux child
subreaper) is reaped; when the child dies of signal N the exit code is 128+N.

Threading model: all process and signal work happens in `run()` on the main thread. Other
threads (the watch daemon) only queue requests with `notify()` / `stop()`, which wake the
loop through the same `Wakeup` pipe that signals arrive on; so there is exactly one place
that signals, reaps and restarts.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from confpy.backoff import Backoff
from confpy.errors import ConfigError, ProcessError
from confpy.log import get_logger
from confpy.supervise.process import (
    exit_code,
    parse_signal,
    set_subreaper,
    signal_group,
    start_session,
)
from confpy.supervise.reaper import Reaper
from confpy.supervise.respawn import RESPAWN_BACKOFF, Respawns
from confpy.wakeup import Wakeup

log = get_logger(__name__)

FORWARDED_SIGNALS = tuple(
    signal.Signals[f"SIG{name}"] for name in ("TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "WINCH")
)
"""Signals the supervisor catches and passes on to the child's process group."""

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
"""Forwarded signals that also end the supervisor (after the child exits or is killed)."""

# A safety net, not the mechanism: SIGCHLD wakes the loop, but a wakeup byte can be lost
# if the pipe were ever full, so the loop also reaps at least this often.
_POLL_INTERVAL = 1.0


class Supervisor:
    """Run `argv` as a supervised child; see the module docstring for the model.

    Call order: optionally `catch_signals()` as early as possible and/or `start()`, both on
    the main thread; then `run()` on the main thread until it returns the exit code.
    `notify()`, `stop()`, `pid` and `reaping_paused()` are safe from any thread.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        reload_signal: str | None = "HUP",
        restart: bool = False,
        kill_signal: str = "TERM",
        kill_timeout: float = 10.0,
        respawn: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        backoff: Backoff = RESPAWN_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not argv:
            raise ConfigError("exec needs a command to run", field="command")
        if kill_timeout < 0:
            raise ConfigError("kill timeout must not be negative", field="kill_timeout")
        self.argv = tuple(argv)
        self.reload_signal = (
            parse_signal(reload_signal, field="reload_signal") if reload_signal else None
        )
        self.restart = restart
        self.kill_signal = parse_signal(kill_signal, field="kill_signal")
        self.kill_timeout = kill_timeout
        self.respawn = respawn
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._respawns = Respawns(backoff)
        self._clock = clock

        # Shared with other threads; guarded by _lock.
        self._lock = threading.Lock()
        self._requests: deque[str] = deque()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper = Reaper(on_resume=self._wake)
        self._wakeup = Wakeup((*FORWARDED_SIGNALS, signal.SIGCHLD))

        # Owned by the main thread.
        self._caught: list[signal.Signals] = []
        self._old_subreaper: int | None = None
        self._held: list[signal.Signals] = []
        self._ever_started = False
        self._started_at = 0.0
        self._start_at: float | None = None
        self._stop_deadline: float | None = None
        self._killed = False
        self._restarting = False
        self._shutdown_code: int | None = None

    # -- public API -----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running child's PID, or None when no child is running."""
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def catch_signals(self) -> None:
        """Start catching the forwarded signals and SIGCHLD; idempotent, main thread only.

        From here on a signal is never lost: it waits in the wakeup pipe until `run()`
        handles it. Call this first thing in `confpy exec` if anything slow (an initial
        render) comes before `start()`.
        """
        if self._wakeup.is_open:
            return
        if threading.current_thread() is not threading.main_thread():
            raise ProcessError("signals can only be caught on the main thread")
        # Why not pthread_sigmask + sigwaitinfo: a blocked mask is per thread, and the
        # daemon has threads we do not create first (the etcd client's gRPC threads); the
        # kernel may deliver a process-directed SIGTERM to any of them, where sigwaitinfo
        # never sees it. A blocked mask is also inherited across exec, so the child would
        # start with its signals blocked unless we unblocked them in a preexec_fn, which is
        # unsafe with threads. See `confpy.wakeup` for what we do instead.
        self._wakeup.open()
        self._old_subreaper = set_subreaper(True)

    def start(self) -> int:
        """Start the child in its own session with inherited stdio; return its PID.

        On the main thread this also calls `catch_signals()`. Raises ProcessError with a
        one-line message if the command cannot be started or a child is already running.
        """
        with self._lock:
            if self._proc is not None:
                raise ProcessError(
                    f"cannot start {self.argv[0]!r}: already running as pid {self._proc.pid}"
                )
        if threading.current_thread() is threading.main_thread():
            self.catch_signals()
        return self._spawn()

    def notify(self) -> None:
        """Installed files changed: reload (or restart) the child. Any thread; never blocks.

        The request is carried out by `run()`: with `restart=False` the reload signal goes
        to the child's process group; with `restart=True` the group gets the kill signal,
        SIGKILL after `kill_timeout`, and a new child starts as soon as the old one is
        reaped. Requests made while no child runs, or while a restart is already under way,
        are dropped: the next child reads the new files anyway.
        """
        self._request("notify")

    def stop(self) -> None:
        """Shut down as on SIGTERM, but send the kill signal. Any thread; never blocks."""
        self._request("stop")

    def reaping_paused(self) -> contextlib.AbstractContextManager[None]:
        """While inside, reap only our own child, not every process (`waitpid(-1)`).

        Wrap other code in this process that starts and waits for subprocesses (check and
        reload commands) so the reaper cannot steal their exit status; see
        `confpy.supervise.reaper`. Orphans are reaped when the last pause ends. Any thread;
        nestable.
        """
        return self._reaper.paused()

    def run(self, on_stop: Callable[[], object] = lambda: None) -> int:
        """Supervise until the end; return the exit code for `confpy exec` to exit with.

        Starts the child unless `start()` already did. Returns the child's exit code
        (128+N if signal N killed it) when it exits on its own and `respawn` is off. On
        SIGTERM/SIGINT (forwarded to the child) or `stop()`, calls `on_stop` once, waits up
        to `kill_timeout` for the child, SIGKILLs its group, and returns the child's exit
        code; or 128+N if no child was running.
        Main thread only; restores the previous signal handlers before returning. A
        Supervisor runs once: a `stop()` or stop signal that precedes `run()` ends it
        without starting the child. ProcessError if a restart or respawn cannot start.
        """
        if threading.current_thread() is not threading.main_thread():
            raise ProcessError("the supervisor must run on the main thread")
        self.catch_signals()
        with self._lock:
            never_started = self._proc is None
        if never_started and self._shutdown_code is None:
            self._start_at = self._clock()
        try:
            return self._loop(on_stop)
        finally:
            self._release_signals()

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self, on_stop: Callable[[], object]) -> int:
        while True:
            # Signals first: a SIGTERM that arrived before the child started must win over
            # starting it.
            for sig in self._drain():
                self._on_signal(sig, on_stop)
            for request in self._take_requests():
                self._on_request(request, on_stop)
            done = self._reap()
            if done is not None:
                return done
            with self._lock:
                running = self._proc is not None
            if self._shutdown_code is not None and not running:
                return self._shutdown_code
            now = self._clock()
            overdue = self._stop_deadline is not None and now >= self._stop_deadline
            if running and overdue and not self._killed:
                log.warning(
                    "child did not stop in time, killing it", pid=self.pid, after=self.kill_timeout
                )
                self._signal_child(signal.SIGKILL)
                self._killed = True
            if not running and self._start_at is not None and now >= self._start_at:
                self._start_at = None
                self._spawn()
                continue
            self._wait(self._timeout(now, running))

    def _timeout(self, now: float, running: bool) -> float:
        timeout = _POLL_INTERVAL
        if running and self._stop_deadline is not None and not self._killed:
            timeout = min(timeout, self._stop_deadline - now)
        if not running and self._start_at is not None:
            timeout = min(timeout, self._start_at - now)
        return max(timeout, 0.0)

    def _wait(self, timeout: float) -> None:
        self._caught += self._wakeup.wait(timeout)

    def _drain(self) -> list[signal.Signals]:
        caught, self._caught = self._caught + self._wakeup.poll(), []
        return caught

    def _take_requests(self) -> list[str]:
        with self._lock:
            requests = list(self._requests)
            self._requests.clear()
        return requests

    def _on_signal(self, sig: signal.Signals, on_stop: Callable[[], object]) -> None:
        if sig == signal.SIGCHLD:
            return  # the reap that follows every wakeup handles it
        if sig in STOP_SIGNALS:
            log.info("stop signal received, stopping the child", signal=sig.name)
            self._begin_shutdown(sig, on_stop)
        else:
            log.info("signal received, forwarding it to the child", signal=sig.name)
            self._signal_child(sig)

    def _on_request(self, request: str, on_stop: Callable[[], object]) -> None:
        if request == "stop":
            self._begin_shutdown(self.kill_signal, on_stop)
            return
        pid = self.pid
        if pid is None or self._shutdown_code is not None:
            log.info("no running child to notify")
            return
        if self.restart:
            if self._restarting:
                return
            log.info("restarting child", pid=pid, signal=self.kill_signal.name)
            self._restarting = True
            self._signal_child(self.kill_signal)
            self._stop_deadline = self._clock() + self.kill_timeout
        elif self.reload_signal is not None:
            log.info("reloading child", pid=pid, signal=self.reload_signal.name)
            self._signal_child(self.reload_signal)

    def _begin_shutdown(self, sig: signal.Signals, on_stop: Callable[[], object]) -> None:
        if self._shutdown_code is None:
            self._shutdown_code = 128 + sig
            self._start_at = None
            self._restarting = False
            timeout = self.kill_timeout if math.isfinite(self.kill_timeout) else None
            log.info("supervisor stopping", signal=sig.name, timeout=timeout)
            try:
                on_stop()
            except Exception as e:  # a failing hook must not leave the child running
                log.error("on_stop hook failed", error=repr(e))
        if self.pid is None:
            return
        self._signal_child(sig)
        if self._stop_deadline is None:
            self._stop_deadline = self._clock() + self.kill_timeout

    def _reap(self) -> int | None:
        """Reap every exited child; return the run's exit code if it is over."""
        while (reaped := self._reaper.reap(self.pid)) is not None:
            pid, status = reaped
            proc = self._proc  # only this (the main) thread replaces it
            if proc is not None and pid == proc.pid:
                done = self._child_exited(proc, status)
                if done is not None:
                    return done
            else:
                log.debug("reaped orphan", pid=pid, exit_code=exit_code(status))
        return None

    def _child_exited(self, proc: subprocess.Popen[bytes], status: int) -> int | None:
        code = exit_code(status)
        # Tell Popen the status is taken, so it never waitpid()s a PID that may be reused.
        proc.returncode = os.waitstatus_to_exitcode(status)
        with self._lock:
            self._proc = None
        now = self._clock()
        lived = now - self._started_at
        self._stop_deadline = None
        self._killed = False
        fields: dict[str, object] = {"pid": proc.pid, "exit_code": code}
        if os.WIFSIGNALED(status):
            fields["signal"] = signal.Signals(os.WTERMSIG(status)).name
        if self._shutdown_code is not None:
            log.info("child exited, supervisor done", **fields)
            return code
        if self._restarting:
            self._restarting = False
            self._start_at = now
            log.info("child stopped for restart", **fields)
            return None
        if self.respawn:
            delay = self._respawns.delay(lived)
            self._start_at = now + delay
            log.warning("child exited, respawning", delay=delay, **fields)
            return None
        log.info("child exited", **fields)
        return code

    # -- processes and signals --------------------------------------------------------------

    def _spawn(self) -> int:
        proc = start_session(self.argv, env=self._env, cwd=self._cwd)
        with self._lock:
            self._proc = proc
        self._ever_started = True
        self._started_at = self._clock()
        log.info("child started", pid=proc.pid, command=self.argv[0])
        held, self._held = self._held, []
        for sig in held:
            self._signal_child(sig)
        return proc.pid

    def _signal_child(self, sig: signal.Signals) -> None:
        pid = self.pid
        if pid is None:
            if not self._ever_started:
                # dumb-init's rule: a signal that comes before the child is passed on once it
                # exists, rather than lost.
                self._held.append(sig)
            else:
                # Between a restart or respawn and the next child: that child reads the
                # current files anyway, and a HUP that lands before it installs its handler
                # would kill it.
                log.info("no running child, signal dropped", signal=sig.name)
            return
        if not signal_group(pid, sig):
            log.warning("not allowed to signal child group", pid=pid, signal=sig.name)
            return
        log.info("signalled child group", pid=pid, signal=sig.name)

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, request: str) -> None:
        with self._lock:
            self._requests.append(request)
        self._wake()

    def _wake(self) -> None:
        self._wakeup.wake()

    def _release_signals(self) -> None:
        if not self._wakeup.is_open:
            return
        self._wakeup.close()
        if self._old_subreaper is not None:
            set_subreaper(bool(self._old_subreaper))
            self._old_subreaper = None
