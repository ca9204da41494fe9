"""Reap every zombie that lands on this process, without stealing a status someone waits for.

As PID 1 or a child subreaper, confpy inherits orphaned grandchildren and must `waitpid(-1)`
them, or they stay zombies. But other code in the process waits for subprocesses of its own
(check and reload commands, through `subprocess`): if `waitpid(-1)` reaped one of those
first, Python would report that command as having exited 0. `paused()` marks such
stretches; while any is open, only the supervised child itself is reaped.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator


class Reaper:
    """`reap()` on the supervising thread; `paused()` from any thread, nestable."""

    def __init__(self, on_resume: Callable[[], object] = lambda: None) -> None:
        self._lock = threading.Lock()
        self._pauses = 0
        self._on_resume = on_resume  # called when a pause ends: orphans may be waiting

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """While inside, `reap()` takes only the child it is asked about."""
        with self._lock:
            self._pauses += 1
        try:
            yield
        finally:
            with self._lock:
                self._pauses -= 1
            self._on_resume()

    def reap(self, own: int | None) -> tuple[int, int] | None:
        """One exited child as (pid, wait status), or None when there is none to take.

        Any child at all, unless paused: then only `own` (nothing when `own` is None).
        """
        with self._lock:
            paused = self._pauses > 0
        if paused and own is None:
            return None
        try:
            pid, status = os.waitpid(own if paused and own is not None else -1, os.WNOHANG)
        except ChildProcessError:
            return None
        return (pid, status) if pid else None
