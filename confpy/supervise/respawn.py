"""How long a supervised child that exited on its own waits before it starts again.

Consecutive respawns back off (0.1, 0.2, 0.4 ... 5 seconds), so a child that dies at once
does not spin; a child that lived `STABLE_AFTER` seconds starts the count over.
"""

from __future__ import annotations

from confpy.backoff import Backoff

STABLE_AFTER = 10.0
"""Seconds a respawned child must live before its respawn backoff starts over."""

RESPAWN_BACKOFF = Backoff(initial=0.1, maximum=5.0)
"""Waits before consecutive respawns: 0.1, 0.2, 0.4 ... 5 seconds."""


class Respawns:
    """The count of respawns in a row, and the wait before the next one."""

    def __init__(self, backoff: Backoff = RESPAWN_BACKOFF) -> None:
        self._backoff = backoff
        self._count = 0

    def delay(self, lived: float) -> float:
        """The wait before starting again a child that lived `lived` seconds."""
        if lived >= STABLE_AFTER:
            self._count = 0
        self._count += 1
        return self._backoff.delay(self._count)
