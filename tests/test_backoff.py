"""The one backoff primitive: delays grow, cap, jitter within bounds; retries wait as told."""

from __future__ import annotations

import pytest
import tenacity

from confpy.backoff import Backoff, retrying
from confpy.errors import StoreUnavailableError


def test_delays_double_from_the_first_and_stop_at_the_maximum() -> None:
    assert [Backoff(0.5, 3.0).delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_adds_at_most_its_own_amount() -> None:
    delays = [Backoff(1.0, 100.0, jitter=0.5).delay(1) for _ in range(200)]
    assert all(1.0 <= d <= 1.5 for d in delays)
    assert len(set(delays)) > 1


def test_a_huge_failure_count_waits_the_maximum_rather_than_overflowing() -> None:
    assert Backoff(0.1, 5.0).delay(100_000) == 5.0


def test_retrying_waits_the_backoff_on_the_injected_sleep_and_reraises_the_last_error() -> None:
    """Retries sleep through the injected function, never for real; the error comes out as itself."""
    slept: list[float] = []

    def fail() -> None:
        raise StoreUnavailableError("down")

    retry = retrying(
        Backoff(1.0, 4.0),
        retry_on=StoreUnavailableError,
        stop=tenacity.stop_after_attempt(4),
        sleep=slept.append,
    )
    with pytest.raises(StoreUnavailableError):
        retry(fail)
    assert slept == [1.0, 2.0, 4.0]


def test_retrying_lets_other_errors_through_at_once() -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise ValueError("not retried")

    with pytest.raises(ValueError):
        retrying(
            Backoff(),
            retry_on=StoreUnavailableError,
            stop=tenacity.stop_never,
            sleep=lambda s: None,
        )(fail)
    assert calls == [1]


def test_a_deadline_caps_every_wait_and_the_last_attempt_is_made_at_it() -> None:
    """With a deadline, no sleep runs past it, one more attempt is made there, then it stops."""
    now = [0.0]
    attempts: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def fail() -> None:
        attempts.append(now[0])
        raise StoreUnavailableError("down")

    retry = retrying(
        Backoff(1.0, 4.0),
        retry_on=StoreUnavailableError,
        stop=tenacity.stop_never,
        sleep=sleep,
        deadline=6.0,
        clock=lambda: now[0],
    )
    with pytest.raises(StoreUnavailableError):
        retry(fail)
    assert attempts == [0.0, 1.0, 3.0, 6.0]


def test_on_retry_hears_each_error_and_its_wait() -> None:
    heard: list[tuple[str, float]] = []
    calls = iter([StoreUnavailableError("one"), StoreUnavailableError("two"), None])

    def flaky() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "ok"

    retry = retrying(
        Backoff(0.5, 4.0),
        retry_on=StoreUnavailableError,
        stop=tenacity.stop_never,
        sleep=lambda s: None,
        on_retry=lambda e, wait: heard.append((str(e), wait)),
    )
    assert retry(flaky) == "ok"
    assert heard == [("one", 0.5), ("two", 1.0)]
