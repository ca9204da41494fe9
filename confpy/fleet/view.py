"""What `confpy status` makes of the records under a report prefix: checked, then printed.

Records come from etcd, where anyone with write access to the prefix may put anything:
each is parsed defensively (size, JSON, types) into a `Host`, and every string shown is
escaped (`shown`) so that no id, resource name or reason can add a line, move the cursor
or pose as another host. The host's id is the last segment of its key, not what the
record claims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_RECORD = 256 * 1024
"""A record larger than this is not read (one daemon with a thousand resources is ~150 KB)."""
MAX_SHOWN = 120
MAX_FAILING_SHOWN = 5


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` on one line of printable characters: others as \\xNN / \\uNNNN, cut at `limit`."""
    out = []
    for c in text:
        if c.isprintable() and c != "\\":
            out.append(c)
        elif c == "\\":
            out.append("\\\\")
        else:
            out.append(json.dumps(c)[1:-1] if ord(c) > 0xFF else f"\\x{ord(c):02x}")
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


@dataclass
class Host:
    """One reporting daemon, as far as its record can be trusted."""

    id: str
    problem: str | None = None
    """Why the record could not be read (then the host counts as not healthy)."""
    healthy: bool = False
    in_sync: bool = False
    revision: int = 0
    waiting_for: str | None = None
    failing: dict[str, str] = field(default_factory=dict)
    resources: int = 0
    version: str = ""

    def ok(self, wait_revision: int | None) -> bool:
        return (
            self.problem is None
            and self.healthy
            and (wait_revision is None or self.revision >= wait_revision)
        )

    def line(self, wait_revision: int | None) -> str:
        state = "ok" if self.ok(wait_revision) else "NOT OK"
        parts = [shown(self.id), state]
        if self.problem is not None:
            return " ".join([*parts, f"(invalid record: {self.problem})"])
        parts += [
            "healthy" if self.healthy else "unhealthy",
            f"revision={self.revision}",
            "in_sync" if self.in_sync else "not_in_sync",
            f"resources={self.resources}",
        ]
        if self.waiting_for:
            parts.append(f"waiting_for={shown(self.waiting_for)!r}")
        for name in sorted(self.failing)[:MAX_FAILING_SHOWN]:
            parts.append(f"failing[{shown(name, 60)}]={shown(self.failing[name])!r}")
        if len(self.failing) > MAX_FAILING_SHOWN:
            parts.append(f"(+{len(self.failing) - MAX_FAILING_SHOWN} more failing)")
        return " ".join(parts)

    def as_json(self, wait_revision: int | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "ok": self.ok(wait_revision),
            "problem": self.problem,
            "healthy": self.healthy,
            "in_sync": self.in_sync,
            "revision": self.revision,
            "waiting_for": self.waiting_for,
            "failing": dict(self.failing),
            "resources": self.resources,
            "version": self.version,
        }


def parse_host(host_id: str, raw: bytes) -> Host:
    """The host from its record; a record that is not what confpy writes is a `problem`."""
    host = Host(host_id)
    if len(raw) > MAX_RECORD:
        host.problem = f"{len(raw)} bytes, more than {MAX_RECORD}"
        return host
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        host.problem = "not JSON"
        return host
    if not isinstance(data, dict):
        host.problem = "not a JSON object"
        return host
    try:
        _fill(host, data)
    except _Bad as e:
        host.problem = str(e)
    return host


class _Bad(Exception):
    pass


def _typed(data: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = data.get(name, default)
    if value is None and default is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{name!r} is not a {kind.__name__}")
    return value


def _fill(host: Host, data: dict[str, Any]) -> None:
    host.healthy = _typed(data, "healthy", bool, False)
    host.in_sync = _typed(data, "in_sync", bool, False)
    host.revision = _typed(data, "revision", int, 0)
    host.waiting_for = _typed(data, "waiting_for", str, None)
    host.version = _typed(data, "version", str, "")
    resources = _typed(data, "resources", dict, {})
    host.resources = len(resources)
    for name, state in resources.items():
        if not isinstance(state, dict):
            raise _Bad(f"resource {shown(name, 60)!r} is not a JSON object")
        reason = state.get("failing")
        if reason is not None:
            host.failing[name] = reason if isinstance(reason, str) else "(not a string)"


def summary(hosts: list[Host], wait_revision: int | None) -> tuple[bool, str]:
    """(every host ok, the closing line naming those that are not)."""
    bad = [h for h in hosts if not h.ok(wait_revision)]
    if not hosts:
        return False, "no host reports under this prefix"
    head = f"{len(hosts)} host(s): {len(hosts) - len(bad)} ok, {len(bad)} not"
    if wait_revision is not None:
        head += f" (wanted healthy at revision >= {wait_revision})"
    if not bad:
        return True, head
    names = ", ".join(shown(h.id, 60) for h in bad[:20])
    more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
    return False, f"{head}: {names}{more}"
