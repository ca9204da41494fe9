"""When to render and reload: debounce windows and reload rate, on an injected clock.

`Debouncer` has consul-template's `wait = "MIN:MAX"` meaning: a resource is ready once
its keys were quiet for MIN, and at the latest MAX after the first change. A resource
with no window is ready at once. `ReloadLimiter` lets each reload action run at most once
per interval; `resync_period` spaces the full re-reads. Neither sleeps: the daemon asks
for the next deadline and waits on its own event. (Retries of failing resources are timed
by `confpy.watch.state`.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass


@dataclass
class _Window:
    first: float
    last: float
    low: float
    high: float

    def due(self) -> float:
        return min(self.last + self.low, self.first + self.high)


class Debouncer:
    """Collects touched resource names and releases them when their window closes."""

    def __init__(self, default: tuple[float, float] | None = None) -> None:
        self.default = default
        self._pending: dict[str, _Window | None] = {}

    def touch(self, name: str, now: float, wait: tuple[float, float] | None = None) -> None:
        window = wait or self.default
        if window is None or window[1] <= 0:
            self._pending[name] = None
            return
        current = self._pending.get(name)
        if current is None:
            self._pending[name] = _Window(now, now, window[0], window[1])
        else:
            current.last = now

    def ready(self, now: float) -> set[str]:
        """Names whose window has closed (or that have none); they leave the debouncer."""
        out = {n for n, w in self._pending.items() if w is None or w.due() <= now}
        for n in out:
            del self._pending[n]
        return out

    def next_due(self) -> float | None:
        dues = [w.due() if w is not None else 0.0 for w in self._pending.values()]
        return min(dues) if dues else None

    def discard(self, names: Iterable[str]) -> None:
        for n in names:
            self._pending.pop(n, None)

    def __len__(self) -> int:
        return len(self._pending)


class ReloadLimiter:
    """Each reload action runs at most once per interval; after a quiet spell, at once.

    An isolated change is therefore reloaded without delay, while a storm of changes
    reloads the service once per interval, and the daemon runs the last owed reload when
    `next_allowed()` comes. Actions are identified by hashable keys (the runner's reload
    keys); `interval=None` means the limiter's default.
    """

    def __init__(self, default: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.default = default
        self._clock = clock
        self._last: dict[Hashable, float] = {}

    def _interval(self, interval: float | None) -> float:
        return self.default if interval is None else interval

    def allowed(self, key: Hashable, interval: float | None = None) -> bool:
        """Whether `key` may run now."""
        return self._clock() >= self.next_allowed(key, interval)

    def next_allowed(self, key: Hashable, interval: float | None = None) -> float:
        """The earliest time `key` may run again (-inf: never ran)."""
        last = self._last.get(key)
        return float("-inf") if last is None else last + self._interval(interval)

    def ran(self, key: Hashable) -> None:
        """Record that `key` starts running now."""
        self._last[key] = self._clock()


def resync_period(
    interval: float | None, resync_interval: float, rng: random.Random
) -> float | None:
    """Seconds to the next full read: the poll `interval`, else `resync_interval` up to 10 %
    early at random, so daemons started together (a fleet after an etcd restart) drift apart
    instead of reading everything in the same second. None: never."""
    period = interval if interval is not None else resync_interval
    if not period or period <= 0:
        return None
    return period if interval is not None else period * (1 - 0.1 * rng.random())
