"""`Wakeup`: one select() that signals, whichever thread receives them, and other threads wake."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from confpy.errors import ProcessError
from confpy.wakeup import Wakeup


def test_wait_times_out_with_nothing_caught() -> None:
    with Wakeup() as wakeup:
        assert wakeup.wait(0.05) == []


def test_wake_from_another_thread_ends_the_wait() -> None:
    with Wakeup() as wakeup:
        threading.Thread(target=wakeup.wake).start()
        started = time.monotonic()
        assert wakeup.wait(30) == []
        assert time.monotonic() - started < 10


def test_a_signal_is_returned_by_wait() -> None:
    with Wakeup([signal.SIGUSR1]) as wakeup:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert wakeup.wait(10) == [signal.SIGUSR1]


def test_a_signal_delivered_to_another_thread_wakes_the_main_thread() -> None:
    """The bug this module exists for: the kernel may hand a SIGTERM to a gRPC thread."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with Wakeup([signal.SIGUSR1]) as wakeup:
            assert other.ident is not None
            signal.pthread_kill(other.ident, signal.SIGUSR1)
            started = time.monotonic()
            assert wakeup.wait(30) == [signal.SIGUSR1]
            assert time.monotonic() - started < 10
    finally:
        release.set()
        other.join()


def test_rings_coalesce_so_a_signal_always_finds_room_in_the_pipe() -> None:
    with Wakeup([signal.SIGUSR1]) as wakeup:
        for _ in range(200_000):  # far more than a pipe holds
            wakeup.wake()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert wakeup.wait(10) == [signal.SIGUSR1]


def test_close_restores_the_previous_handler() -> None:
    def previous(signum: int, frame: object) -> None: ...

    old = signal.signal(signal.SIGUSR2, previous)
    try:
        with Wakeup([signal.SIGUSR2]):
            assert signal.getsignal(signal.SIGUSR2) is not previous
        assert signal.getsignal(signal.SIGUSR2) is previous
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_wake_after_close_is_harmless() -> None:
    wakeup = Wakeup().open()
    wakeup.close()
    wakeup.wake()
    assert not wakeup.is_open


def test_catching_signals_off_the_main_thread_is_refused() -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Wakeup([signal.SIGUSR1]).open()
        except ProcessError as e:
            errors.append(e)

    t = threading.Thread(target=open_it)
    t.start()
    t.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])


def test_wait_before_open_is_an_error() -> None:
    with pytest.raises(ProcessError):
        Wakeup().wait(0)


def test_no_wakeup_is_lost_while_many_threads_wake_during_polls() -> None:
    """Stress: eight threads post and wake 3,000 times each while the loop waits and polls.

    Each writer counts an item, then wakes, as the watch thread does. The loop waits until
    it has seen every item; a lost wakeup makes one `wait()` sleep to its 10 s timeout
    with items posted and woken for. Ten rounds, with the threads interleaved as finely
    as CPython allows.
    """
    writers, per_writer = 8, 3000
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with Wakeup() as wakeup:
            for _ in range(10):
                counts = [0] * writers

                def write(i: int, counts: list[int] = counts) -> None:
                    for _ in range(per_writer):
                        counts[i] += 1
                        wakeup.wake()

                threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
                for t in threads:
                    t.start()
                longest = 0.0
                while sum(counts) < writers * per_writer:
                    started = time.monotonic()
                    wakeup.wait(10)
                    longest = max(longest, time.monotonic() - started)
                for t in threads:
                    t.join()
                assert longest < 10, "the loop slept through a wake()"
    finally:
        sys.setswitchinterval(switch)
