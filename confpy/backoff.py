"""Exponential backoff with jitter: the one way confpy spaces out retries, respawns and timers.

`Backoff` describes the delays (the first, the ceiling, the jitter) with tenacity's
`wait_exponential_jitter`. Code that retries one call uses `retrying()`, a
`tenacity.Retrying` with an injectable sleep; loops that wait on their own event (the
daemon's failing resources, `tls rotate --every`, the supervisor's respawns) ask
`Backoff.delay(n)` for the wait after the n-th consecutive failure, and read the time from
a clock they were given. Nothing here sleeps on its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

_Errors = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Backoff:
    """Wait `initial` after the first failure, doubling up to `maximum`, plus 0..`jitter`.

    With `spread`, "full jitter" instead: a random time between 0 and that step, the first
    one included. Many processes that fail together (a fleet of daemons when etcd restarts)
    then come back spread over the whole step rather than all at once after it.
    """

    initial: float = 0.1
    maximum: float = 5.0
    jitter: float = 0.0
    spread: bool = False

    def wait(self, rng: random.Random | None = None) -> tenacity.wait.wait_base:
        """The tenacity wait strategy, for `tenacity.Retrying(wait=...)`; `rng` for tests."""
        if self.spread:
            return _FullJitter(self.initial, self.maximum, rng or _RANDOM)
        return tenacity.wait_exponential_jitter(
            multiplier=self.initial, max=self.maximum, jitter=self.jitter
        )

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after `failures` consecutive failures (1 = the first)."""
        state = tenacity.RetryCallState(_OWNER, None, (), {})
        state.attempt_number = max(failures, 1)
        return float(self.wait(rng)(state))


class _FullJitter(tenacity.wait.wait_base):
    """Uniform in [0, min(maximum, initial * 2**(attempt-1))], drawn from `rng`."""

    def __init__(self, initial: float, maximum: float, rng: random.Random) -> None:
        self.initial, self.maximum, self.rng = initial, maximum, rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        # The exponent is capped: past the ceiling it no longer matters, and 2**n overflows.
        step = self.initial * 2 ** min(max(retry_state.attempt_number, 1) - 1, 60)
        return self.rng.uniform(0.0, min(self.maximum, step))


_RANDOM = random.Random()  # noqa: S311 - jitter, not a secret


WAITING_FOR_ETCD = Backoff(initial=0.2, maximum=5.0, jitter=0.5)
"""Between attempts while etcd is away or keys are missing: `--wait-for-keys` and the
daemon's snapshots."""

# A call state needs a Retrying to belong to; `delay` asks only its wait strategy.
_OWNER = tenacity.Retrying()


def retrying(
    backoff: Backoff,
    *,
    retry_on: _Errors,
    stop: tenacity.stop.stop_base,
    unless: _Errors = (),
    sleep: Callable[[float], object] = time.sleep,
    log: Any = None,
    event: str = "retrying",
    on_retry: Callable[[BaseException, float], object] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    **fields: object,
) -> tenacity.Retrying:
    """Retry a call while it raises `retry_on` (but not `unless`), waiting as `backoff`
    says, until `stop`.

    The last error is re-raised as itself. Before each wait, `log` (when given) gets a
    warning `event` with `fields`, the error, the attempt number and the wait; `on_retry`
    (when given) gets the error and the wait instead, to say it its own way.

    With a `deadline` (a time on `clock`), no wait runs past it, and the last attempt is
    made at the deadline: then the retrying stops, whatever `stop` says.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if on_retry is not None and error is not None:
            on_retry(error, wait)
            return
        log.warning(
            event,
            **fields,
            error=str(error),
            attempt=state.attempt_number,
            wait=round(wait, 2) if state.next_action else None,
        )

    def pause(seconds: float) -> None:
        sleep(seconds)

    grow = backoff.wait()
    end = float("inf") if deadline is None else deadline

    def wait(state: tenacity.RetryCallState) -> float:
        return max(0.0, min(grow(state), end - clock()))

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(
            lambda e: isinstance(e, retry_on) and not isinstance(e, unless)
        ),
        wait=wait,
        stop=stop | _StopAt(end, clock),
        sleep=pause,
        before_sleep=before_sleep if log is not None or on_retry is not None else None,
        reraise=True,
    )


class FailureLog:
    """Say each kind of failure once while a retry loop keeps meeting it, and the recovery.

    A loop that retries every few seconds for an hour (etcd out of space until an operator
    steps in) would otherwise print hundreds of identical lines. A line is logged when the
    error's class differs from the previous failure's; `recovered()` logs one line after
    failures. Messages are confpy's own (they never hold a value).
    """

    def __init__(self, log: Any, event: str, **fields: object) -> None:
        self.log, self.event, self.fields = log, event, fields
        self.failures = 0
        self._last: type[BaseException] | None = None

    def failed(self, error: BaseException, wait: float) -> None:
        self.failures += 1
        if type(error) is self._last:
            return
        self._last = type(error)
        self.log.warning(
            self.event,
            **self.fields,
            error=str(error),
            kind=type(error).__name__,
            retry_in=round(wait, 2),
        )

    def recovered(self) -> None:
        if self.failures:
            self.log.info("etcd answers again", **self.fields, failures=self.failures)
        self.failures, self._last = 0, None


class _StopAt(tenacity.stop.stop_base):
    """Stop once `clock()` reaches `end`."""

    def __init__(self, end: float, clock: Callable[[], float]) -> None:
        self.end, self.clock = end, clock

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.clock() >= self.end
