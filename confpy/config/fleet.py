"""The resource fields `fleet_group` and `fleet_concurrency`, checked.

`fleet_group = "NAME"` puts a resource's install-and-reload under the fleet's reload slots
for NAME; `fleet_concurrency = N` (default 1) is how many daemons of the group may be
between installing its new file and the end of its reload at once.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from confpy.errors import ConfigError

GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""A group name is a key segment: no `/`, nothing a terminal or shell would read."""
MAX_CONCURRENCY = 10_000


class _Fields(Protocol):
    def get(self, name: str, kinds: type | tuple[type, ...], what: str) -> Any: ...

    def error(self, name: str, message: str) -> ConfigError: ...


def check(table: _Fields) -> tuple[str, int] | None:
    """(group, concurrency), or None when the resource is in no fleet group."""
    group = table.get("fleet_group", str, 'a group name such as "lb"')
    concurrency = table.get("fleet_concurrency", int, "a number of daemons")
    if group is None:
        if concurrency is not None:
            raise table.error("fleet_concurrency", 'needs fleet_group = "NAME"')
        return None
    if not GROUP_NAME.fullmatch(group) or group in (".", ".."):
        raise table.error(
            "fleet_group", "must be 1-64 letters, digits, '_', '.' or '-' (it is an etcd key)"
        )
    if concurrency is None:
        concurrency = 1
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise table.error(
            "fleet_concurrency", f"must be between 1 and {MAX_CONCURRENCY}, got {concurrency}"
        )
    return group, concurrency
