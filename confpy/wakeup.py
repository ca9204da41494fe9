"""Wake one waiting loop for signals and for other threads, losing neither.

Why not Python signal handlers that set an Event or put into a queue: the kernel delivers
a process-directed signal to any thread that has it unblocked, gRPC's threads included.
CPython runs the Python-level handler only when the *main* thread next executes bytecode,
so a main thread asleep in `Event.wait`, `Queue.get` or `waitpid` does not wake up, and a
SIGTERM can sit unhandled until that wait times out (minutes, for a daemon). A handler that
takes a lock can also deadlock against the very wait it interrupted.

So signals go through `signal.set_wakeup_fd`: its C-level handler runs in whichever thread
receives the signal and writes the signal number into our pipe. The loop `select()`s on
that pipe, gets the signals back from `wait()` and handles them as ordinary code, outside
any handler, where taking locks is safe. Other threads wake the same `select()` with
`wake()`, which writes a zero byte (no signal is numbered 0).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any, TypeAlias, TypeVar, cast

from confpy.errors import ProcessError

_WAKE_BYTE = b"\0"
# What signal.signal() takes and returns (None: a handler not installed from Python).
_Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Wakeup:
    """A self-pipe that `wait()` blocks on; optionally also the process's signal wakeup fd.

    With `signals`, `open()` must run on the main thread, and until `close()` those
    signals no longer run their old handlers: they are returned by `wait()` instead. One
    Wakeup with signals may be open per process (there is one wakeup fd). Without
    signals it is a plain cross-thread doorbell usable from any thread.
    """

    def __init__(self, signals: Iterable[int] = ()) -> None:
        self.signals = tuple(signal.Signals(s) for s in signals)
        self._lock = threading.Lock()
        self._r = -1
        self._w = -1
        self._rung = False
        self._old_wakeup_fd = -1
        self._old_handlers: dict[signal.Signals, _Handler] = {}

    @property
    def is_open(self) -> bool:
        return self._w >= 0

    def open(self) -> Wakeup:
        """Create the pipe and start catching `signals`; idempotent. Returns self."""
        if self.is_open:
            return self
        if self.signals and threading.current_thread() is not threading.main_thread():
            raise ProcessError("signals can only be caught on the main thread")
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        with self._lock:
            self._r, self._w = r, w
        if self.signals:
            # The wakeup fd first, the handlers second: a signal between the two is then
            # still seen. The handlers only need to exist; the C side writes the byte.
            self._old_wakeup_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            for sig in self.signals:
                self._old_handlers[sig] = signal.signal(sig, _record_only)
        return self

    def close(self) -> None:
        """Restore the previous handlers and wakeup fd and close the pipe; idempotent.

        Signals caught but not yet returned by `wait()` are dropped.
        """
        if not self.is_open:
            return
        if self.signals:
            for sig, old in self._old_handlers.items():
                signal.signal(sig, old if old is not None else signal.SIG_DFL)
            self._old_handlers.clear()
            signal.set_wakeup_fd(self._old_wakeup_fd)
        # Under the lock so that `wake()` never writes to a closed (and reused) fd number.
        with self._lock:
            os.close(self._r)
            os.close(self._w)
            self._r = self._w = -1

    def __enter__(self) -> Wakeup:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def wake(self) -> None:
        """Make the current or next `wait()` return. Any thread; never blocks.

        Rings coalesce: until a `wait()` takes them, only one byte sits in the pipe, so
        the pipe never fills up and a signal's byte always finds room.
        """
        with self._lock:
            if self._w < 0 or self._rung:
                return
            self._rung = True
            with contextlib.suppress(BlockingIOError):
                os.write(self._w, _WAKE_BYTE)

    def wait(self, timeout: float | None) -> list[signal.Signals]:
        """Block until a signal, a `wake()` or `timeout` seconds; return the signals caught.

        Callers check their own state (queues, flags) after every return: a wakeup says
        only that something may have changed.
        """
        if not self.is_open:
            raise ProcessError("Wakeup.wait() before open()")
        # select() is retried by Python after EINTR (PEP 475), but by then the signal's
        # byte is in the pipe, so the retry returns at once.
        select.select([self._r], [], [], timeout)
        return self.poll()

    def poll(self) -> list[signal.Signals]:
        """The signals caught since the last call, without waiting.

        The pipe is emptied and `_rung` cleared under the lock `wake()` takes, so the two
        always agree: `_rung` is set exactly while a wake byte sits in the pipe. (Clearing
        the flag first and reading after would let a `wake()` in between put its byte in
        the pipe, have it read here, and leave the flag set with the pipe empty: every
        later `wake()` would then be dropped, and the loop would sleep through changes.)
        A signal's byte may still arrive after the last read: it stays in the pipe, and
        the next `wait()` returns at once.
        """
        caught: list[signal.Signals] = []
        with self._lock:
            while self._r >= 0:
                try:
                    data = os.read(self._r, 512)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                for byte in data:
                    if byte:
                        with contextlib.suppress(ValueError):
                            caught.append(signal.Signals(byte))
            self._rung = False
        return caught


def _record_only(signum: int, frame: FrameType | None) -> None:
    """Python-level handler: the C-level handler already wrote the signal to the pipe."""


_T = TypeVar("_T")


def call_answering_signals(
    wakeup: Wakeup,
    on_signals: Callable[[list[signal.Signals]], object],
    fn: Callable[..., _T],
    *args: Any,
) -> _T:
    """`fn(*args)`, run in a helper thread while this thread keeps taking signals from
    `wakeup` and handing them to `on_signals`: a loop blocked in a read of etcd still
    hears SIGTERM, and its stop can cancel the read (see `Daemon.stop`).

    Rings from other threads that arrive meanwhile are taken here too: callers check
    their own state (queues) afterwards, as after any `wait()`.
    """
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as e:  # handed back to the caller's thread
            outcome.append((False, e))
        finally:
            wakeup.wake()

    threading.Thread(target=work, name="confpy-read", daemon=True).start()
    while not outcome:
        on_signals(wakeup.wait(None))
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(_T, value)
