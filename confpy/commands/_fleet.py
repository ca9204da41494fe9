"""The fleet flags of `render --watch` and `exec`, and their wiring into the daemon.

`--report-prefix` starts a `confpy.fleet.report.Reporter`; resources with `fleet_group`
take slots through `confpy.fleet.slots.Slots` (`Hooks.slots`). Both use a store of their
own, so that a slot or a record never waits behind the daemon's reads.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from confpy.errors import ConfigError

if TYPE_CHECKING:
    from confpy.config.resource import TemplateResource
    from confpy.config.settings import Settings
    from confpy.fleet.report import Reporter
    from confpy.store import EtcdStore
    from confpy.watch.health import Status
    from confpy.watch.options import Pause

DEFAULT_FLEET_PREFIX = "/confpy/fleet"
REPORT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
"""An id is one key segment, and shown to operators: nothing else."""


def fleet_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("fleet (see docs/operations.md, 'Large fleets')")
    g.add_argument(
        "--report-prefix",
        metavar="PREFIX",
        help="publish this daemon's status record at PREFIX/ID under a lease, for "
        "`confpy status --report-prefix PREFIX`",
    )
    g.add_argument(
        "--report-id",
        metavar="ID",
        help="this daemon's name under --report-prefix (default: the host name)",
    )
    g.add_argument(
        "--fleet-prefix",
        default=DEFAULT_FLEET_PREFIX,
        metavar="PREFIX",
        help="where resources with fleet_group take their reload slots "
        f"(default {DEFAULT_FLEET_PREFIX})",
    )
    return p


def absolute_prefix(flag: str, text: str) -> str:
    prefix = text.rstrip("/")
    if not prefix.startswith("/") or any(not c.isprintable() for c in prefix):
        raise ConfigError(f"{flag}: must be an absolute key prefix such as /confpy/status")
    return prefix


class Fleet:
    """The daemon's fleet hooks: reload slots always, the status record when asked."""

    def __init__(self, args: argparse.Namespace, settings: Settings, status: Status) -> None:
        import secrets
        import socket

        from confpy.fleet.slots import Slots
        from confpy.store import EtcdStore

        report_id = args.report_id or socket.gethostname()
        if not REPORT_ID.fullmatch(report_id):
            raise ConfigError(
                f"--report-id: {report_id!r} is not 1-200 letters, digits, '_', '.', ':' or '-'"
            )
        self.report_id = report_id
        self.report_prefix = (
            absolute_prefix("--report-prefix", args.report_prefix) if args.report_prefix else None
        )
        fleet_prefix = absolute_prefix("--fleet-prefix", args.fleet_prefix)
        self.settings, self.status = settings, status
        # Timeouts below a lease's refresh interval, so that one slow call cannot lose it.
        self.store: EtcdStore = EtcdStore(settings, timeout=3.0)
        # Two daemons may share a host name (and an id): the token keeps their slots apart.
        owner = f"{report_id}.{secrets.token_hex(4)}"
        self._slots = Slots(self.store, status, prefix=fleet_prefix, owner=owner)
        self.reporter: Reporter | None = None
        self._pause: Pause | None = None

    def attach(self, pause: Pause) -> None:
        """The daemon's way to wait (`Daemon.pause`): it exists only once the daemon does."""
        self._pause = pause

    def slots(self, resources: Sequence[TemplateResource]) -> AbstractContextManager[bool]:
        """`Hooks.slots`."""
        assert self._pause is not None, "attach() the daemon's pause first"
        return self._slots.hold(resources, self._pause)

    def start_report(self, resources: Callable[[], Sequence[TemplateResource]]) -> None:
        if self.report_prefix is None:
            return
        from confpy.fleet.report import Reporter

        self.reporter = Reporter(
            self.store,
            self.status,
            resources,
            prefix=self.report_prefix,
            report_id=self.report_id,
        )
        self.reporter.start()

    def close(self) -> None:
        if self.reporter is not None:
            self.reporter.close()
        self.store.close()
