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

    retry = retrying(Backoff(1.0, 4.0), retry_on=StoreUnavailableError,
                     stop=tenacity.stop_after_attempt(4), sleep=slept.append)
    with pytest.raises(StoreUnavailableError):
        retry(fail)
    assert slept == [1.0, 2.0, 4.0]


def test_retrying_lets_other_errors_through_at_once() -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise ValueError("not retried")

    with pytest.raises(ValueError):
        retrying(Backoff(), retry_on=StoreUnavailableError, stop=tenacity.stop_never,
                 sleep=lambda s: None)(fail)
    assert calls == [1]
