"""Debounce windows and retry backoff on a fake clock: no real waiting."""

from confpy.watch.schedule import Debouncer


def test_without_a_window_a_touched_resource_is_ready_at_once() -> None:
    """No wait configured: minimal latency."""
    d = Debouncer()
    d.touch("app", now=10.0)
    assert d.ready(10.0) == {"app"}
    assert d.ready(10.0) == set()


def test_window_waits_until_keys_were_quiet_for_min() -> None:
    """wait = 2s:10s: ready 2 s after the last change."""
    d = Debouncer((2.0, 10.0))
    d.touch("app", now=0.0)
    d.touch("app", now=1.5)
    assert d.ready(3.0) == set()
    assert d.next_due() == 3.5
    assert d.ready(3.5) == {"app"}


def test_window_fires_at_max_even_if_changes_continue() -> None:
    """A steady stream of changes cannot postpone a render past MAX."""
    d = Debouncer((2.0, 10.0))
    for t in range(0, 11):
        d.touch("app", now=float(t))
        if t < 10:
            assert d.ready(float(t)) == set()
    assert d.ready(10.0) == {"app"}


def test_resource_window_overrides_the_global_one() -> None:
    """A resource's own `wait` wins over --wait."""
    d = Debouncer((5.0, 20.0))
    d.touch("fast", now=0.0, wait=(0.1, 0.5))
    d.touch("slow", now=0.0)
    assert d.ready(0.2) == {"fast"}


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_isolated_reload_may_run_at_once() -> None:
    """A reload that has not run for a while is never held back."""
    from confpy.watch.schedule import ReloadLimiter

    limiter = ReloadLimiter(1.0, FakeClock())
    assert limiter.allowed(("reload_cmd", "x"))


def test_a_reload_runs_at_most_once_per_interval() -> None:
    """After a run, the same action waits out the interval; another action does not."""
    from confpy.watch.schedule import ReloadLimiter

    clock = FakeClock()
    limiter = ReloadLimiter(1.0, clock)
    limiter.ran("a")
    clock.now += 0.5
    assert not limiter.allowed("a")
    assert limiter.allowed("b")
    assert limiter.next_allowed("a") == 101.0
    clock.now = 101.0
    assert limiter.allowed("a")


def test_a_resource_interval_overrides_the_default() -> None:
    from confpy.watch.schedule import ReloadLimiter

    clock = FakeClock()
    limiter = ReloadLimiter(1.0, clock)
    limiter.ran("a")
    clock.now += 2.0
    assert limiter.allowed("a")
    assert not limiter.allowed("a", 5.0)
    assert limiter.allowed("a", 0.0)


def test_wait_for_keys_deadline_holds_with_a_last_attempt_at_the_deadline() -> None:
    """--wait-for-keys 10s: waits never run past 10 s, and etcd is asked once more at 10 s."""
    import pytest

    from confpy.apply.onetime import retry_until
    from confpy.errors import StoreUnavailableError

    clock = FakeClock(0.0)
    attempts: list[float] = []

    def sleep(seconds: float) -> None:
        clock.now += seconds

    def unavailable() -> None:
        attempts.append(clock.now)
        raise StoreUnavailableError("down")

    with pytest.raises(StoreUnavailableError):
        retry_until(unavailable, 10.0, sleep=sleep, clock=clock)
    assert attempts[-1] == pytest.approx(10.0)
    assert clock.now == pytest.approx(10.0)
    assert len(attempts) >= 6
