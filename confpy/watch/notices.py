"""Tell `Hooks.on_installed` which files were installed, at most once per min_reload_interval.

The hook is a reload action too (a fleet's peers hear of it), so the daemon's one
`ReloadLimiter` paces it; what is held back is owed and goes out once allowed.
"""

from __future__ import annotations

from collections.abc import Callable

from confpy.config.resource import TemplateResource
from confpy.watch.schedule import ReloadLimiter

_KEY = ("on_installed",)
"""The reload limiter's key for `Hooks.on_installed`."""


class InstalledNotices:
    """The installed resources the hook has not been told about yet, and when it may be."""

    def __init__(
        self, tell: Callable[[list[TemplateResource]], object], limiter: ReloadLimiter
    ) -> None:
        self._tell = tell
        self._limiter = limiter
        self.owed: list[TemplateResource] = []

    def add(self, installed: list[TemplateResource]) -> None:
        """Note `installed`, and tell the hook everything owed if it may run now."""
        self.owed.extend(installed)
        if not self.ready():
            return
        owed, self.owed = self.owed, []
        self._limiter.ran(_KEY)
        self._tell(list({r.name: r for r in owed}.values()))

    def ready(self) -> bool:
        """Something is owed and the limiter lets the hook run."""
        return bool(self.owed) and self._limiter.allowed(_KEY)

    def next_due(self) -> float | None:
        """When what is owed may go out; None when nothing is owed."""
        return self._limiter.next_allowed(_KEY) if self.owed else None
