"""Account for what a change set did: retries, owed and deferred reloads, health, metrics.

`record()` reads a `report.Report` and updates the daemon's `ResourceTable` and the
`health.Status` (counters, latency, what is failing), logging retries and recoveries.
No I/O beyond the log.
"""

from __future__ import annotations

from confpy.apply.report import Outcome, Report
from confpy.log import get_logger
from confpy.watch.health import Status
from confpy.watch.state import ResourceTable

log = get_logger(__name__)


def record(report: Report, table: ResourceTable, status: Status, now: float, revision: int) -> None:
    """Fold `report`, made at `now` from the snapshot at `revision`, into `table` and `status`."""
    status.count("renders", len(report.outcomes))
    status.count("reloads", report.reloads)
    for o in report.outcomes:
        name = o.resource.name
        received = table.take_received(name)
        table.set_owed(name, o.reload_owed)
        if o.status == "installed":
            status.count("installs")
            if received is not None:
                status.observe_latency(now - received)
        if o.failed:
            _failed(o, table, status, now, revision)
            continue
        if o.reload_not_before is not None:
            # Deferred by min_reload_interval; a reload that failed before stays failing.
            table.defer_reload(name, o.reload_not_before)
            status.count("reloads_deferred")
            continue
        if name in table.failing:
            log.info("recovered", resource=name, revision=revision)
        table.succeeded(name)
        status.resource_recovered(name)


def _failed(o: Outcome, table: ResourceTable, status: Status, now: float, revision: int) -> None:
    name, step, error = o.resource.name, o.step, str(o.error)
    delay = table.failed(name, now)
    status.count("render_failures")
    reload = step == "reload"
    if reload:
        status.count("reload_failures")
    status.resource_failed(name, f"{step}: {error}" if reload else error, reload=reload)
    log.warning(
        "will retry",
        resource=name,
        step=step,
        retry_in=round(delay, 2),
        revision=revision,
        reload_owed=name in table.owed,
    )
