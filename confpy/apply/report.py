"""What one run did to each resource: `Outcome`, `Report`, and how a failure is recorded.

Shared by the runner, the reload actions and the daemon's accounting; `fail()` marks an
outcome failed and logs the one "resource failed" line (names, never values).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confpy.config.resource import TemplateResource
from confpy.errors import CommandError, ConfpyError
from confpy.log import get_logger

log = get_logger(__name__)


@dataclass
class Outcome:
    """What happened to one resource in one run."""

    resource: TemplateResource
    status: str = "unchanged"
    """unchanged | installed | pending (noop) | failed"""
    step: str = ""
    """Where it failed: render | stage | check | install | reload."""
    error: ConfpyError | None = None
    diff: str | None = None
    checksum: str = ""
    reload_owed: bool = False
    """Its file was installed (now or earlier) but its reload has not run successfully
    since: deferred by the reload limiter, failed, or blocked by a failure in its change
    set. The daemon runs it again, even though the file will then be unchanged."""
    reload_not_before: float | None = None
    """When the limiter deferred the reload: the limiter's time at which it may run."""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class Report:
    revision: int
    outcomes: list[Outcome] = field(default_factory=list)
    reloads: int = 0
    """Distinct reload actions run (commands, signals, restarts)."""

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.outcomes)

    @property
    def installed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "installed"]


def fail(o: Outcome, step: str, error: ConfpyError, revision: int) -> None:
    o.status, o.step, o.error = "failed", step, error
    fields: dict[str, object] = {
        "resource": o.resource.name,
        "dest": str(o.resource.dest),
        "revision": revision,
        "step": step,
        "error": str(error),
    }
    if isinstance(error, CommandError) and error.status is not None:
        fields["status"] = error.status
        fields["output"] = error.output
    log.error("resource failed", **fields)
