"""Worker threads whose death the main loop hears of: never run on with a dead worker.

A long-running command (register, `render --watch`, exec, `tls rotate --every`) does its
work in threads while the main thread waits for signals. A thread that dies of an error
nothing expected (a bug, an error class no retry knows) would leave the process alive and
useless, exiting 0 much later. `Worker` runs its target; if an error ends it, the worker
keeps the error and rings the main loop (`on_death`), which calls `check()`: that raises
`WorkerDiedError`, which the CLI turns into one line and exit 1.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from confpy.errors import ConfpyError, WorkerDiedError
from confpy.log import get_logger
from confpy.redact import one_line

log = get_logger(__name__)


class Worker:
    """Runs `target()` in a daemon thread named `name`; `check()` raises once it has died."""

    def __init__(
        self,
        name: str,
        target: Callable[[], object],
        *,
        on_death: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self._target = target
        self._on_death = on_death
        self.error: BaseException | None = None
        """What ended the target, None while nothing has."""
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def check(self) -> None:
        """Raise what ended the target, if anything did: a `ConfpyError` as itself (a
        failure the command reports as usual), anything else as `WorkerDiedError`."""
        e = self.error
        if e is None:
            return
        if isinstance(e, ConfpyError):
            raise e
        raise WorkerDiedError(self.name, one_line(f"{type(e).__name__}: {e}"))

    def _run(self) -> None:
        try:
            self._target()
        # Everything: a thread's exception would otherwise print a traceback and vanish.
        except BaseException as e:
            self.error = e
            # The command's one error line says what (see `check`); where, only in a debug
            # log. An unexpected error's text is not known to be free of values: one_line
            # bounds it and makes it printable like every other message.
            where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
            log.debug(
                "worker thread died",
                thread=self.name,
                error=one_line(f"{type(e).__name__}: {e}"),
                at=f"{where.filename}:{where.lineno}" if where else None,
            )
            self.done.set()
            if self._on_death is not None:
                self._on_death()
        finally:
            self.done.set()
