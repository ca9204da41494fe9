"""What the daemon remembers about each resource between renders, in one table.

One `ResourceState` per resource holds its retry backoff, its owed and deferred reload,
the etcd revisions that touched it and when its oldest unapplied change arrived;
`ResourceTable` answers the daemon's questions about all of them (what is due, what is
failing, what is owed) on times it is given. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from confpy.backoff import Backoff

RETRY_BACKOFF = Backoff(initial=1.0, maximum=60.0, jitter=1.0)
"""Between retries of a failing resource, until it succeeds."""


@dataclass
class ResourceState:
    """One resource's runtime state (its configuration stays in `TemplateResource`)."""

    failures: int = 0
    """Consecutive failed attempts; 0 when the last one succeeded."""
    retry_at: float | None = None
    """When the next retry of a failing resource is due (None: not scheduled)."""
    reload_owed: bool = False
    """Its file was installed but its reload has not run successfully since."""
    reload_at: float | None = None
    """When a reload held back by min_reload_interval may run."""
    revisions: set[int] = field(default_factory=set)
    """The etcd revisions that touched it since its last render (transaction ties)."""
    received_at: float | None = None
    """When the oldest change not yet in its file was received."""

    @property
    def idle(self) -> bool:
        return self == ResourceState()


class ResourceTable:
    """The `ResourceState` of every resource that has any; others are idle."""

    def __init__(self, backoff: Backoff = RETRY_BACKOFF) -> None:
        self._backoff = backoff
        self._states: dict[str, ResourceState] = {}

    def get(self, name: str) -> ResourceState:
        """The state of `name` (an idle one, not stored, if it has none)."""
        return self._states.get(name) or ResourceState()

    def _edit(self, name: str) -> ResourceState:
        return self._states.setdefault(name, ResourceState())

    def _tidy(self, name: str) -> None:
        state = self._states.get(name)
        if state is not None and state.idle:
            del self._states[name]

    def _items(self) -> Iterator[tuple[str, ResourceState]]:
        return iter(list(self._states.items()))

    # -- changes from etcd ----------------------------------------------------------------

    def touched(self, name: str, revision: int, received: float) -> None:
        """A change at `revision`, received at `received`, concerns `name`."""
        state = self._edit(name)
        state.revisions.add(revision)
        if state.received_at is None:
            state.received_at = received

    def rendered(self, names: Collection[str]) -> None:
        """`names` were rendered: the revisions that touched them tie them no more."""
        for name in names:
            if name in self._states:
                self._states[name].revisions.clear()
                self._tidy(name)

    def take_received(self, name: str) -> float | None:
        """When the change now applied to `name` was received (once: then forgotten)."""
        if name not in self._states:
            return None
        received, self._states[name].received_at = self._states[name].received_at, None
        self._tidy(name)
        return received

    # -- outcomes ---------------------------------------------------------------------------

    def set_owed(self, name: str, owed: bool) -> None:
        """Whether `name`'s reload is owed; an owed reload is no longer deferred."""
        state = self._edit(name)
        state.reload_owed, state.reload_at = owed, None
        self._tidy(name)

    def defer_reload(self, name: str, until: float) -> None:
        self._edit(name).reload_at = until

    def failed(self, name: str, now: float) -> float:
        """Record a failure at `now`; return the delay before the next try."""
        state = self._edit(name)
        state.failures += 1
        delay = self._backoff.delay(state.failures)
        state.retry_at = now + delay
        return delay

    def succeeded(self, name: str) -> None:
        state = self._edit(name)
        state.failures, state.retry_at = 0, None
        self._tidy(name)

    # -- questions --------------------------------------------------------------------------

    def due(self, now: float) -> set[str]:
        """Retries and deferred reloads whose time has come; each is handed out once (a
        failing resource stays failing until it succeeds)."""
        out: set[str] = set()
        for name, state in self._items():
            if state.retry_at is not None and state.retry_at <= now:
                state.retry_at = None
                out.add(name)
            if state.reload_at is not None and state.reload_at <= now:
                state.reload_at = None
                out.add(name)
            self._tidy(name)
        return out

    def next_due(self) -> float | None:
        times = [
            t for s in self._states.values() for t in (s.retry_at, s.reload_at) if t is not None
        ]
        return min(times, default=None)

    @property
    def failing(self) -> set[str]:
        return {n for n, s in self._states.items() if s.failures}

    @property
    def owed(self) -> set[str]:
        return {n for n, s in self._states.items() if s.reload_owed}

    @property
    def deferred(self) -> bool:
        """Whether any reload is held back by min_reload_interval."""
        return any(s.reload_at is not None for s in self._states.values())

    def keep(self, names: Collection[str]) -> None:
        """Forget every resource not in `names` (a new configuration dropped them)."""
        for gone in set(self._states) - set(names):
            del self._states[gone]
