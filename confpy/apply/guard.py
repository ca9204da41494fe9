"""Hold a change set's guard (its fleet reload slots) from install to the end of its reloads.

`apply` calls `enter()` once a change set is staged and checked, with the resources about
to be installed or reloaded; if the guard cannot be taken (the daemon is stopping, etcd
refused), nothing is installed and each of them fails at the step "slot", to be retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack

from confpy.apply.installer import Staged
from confpy.apply.report import Outcome, fail
from confpy.config.resource import TemplateResource
from confpy.errors import ConfpyError

Guard = Callable[[Sequence[TemplateResource]], AbstractContextManager[bool]]
"""Given the resources a change set will install or reload; enters True if it holds
something (then no reload of the change set is deferred: the slot paces them)."""


def enter(
    stack: ExitStack,
    guard: Guard | None,
    resources: Sequence[TemplateResource],
    staged: Sequence[Staged],
    outcomes: dict[str, Outcome],
    revision: int,
) -> bool | None:
    """Enter `guard` on `stack` for those of `resources` that are `staged` or owe
    a reload, and did not fail: whether it holds something, or None when it could not be
    taken (each of them then failed)."""
    names = {s.resource.name for s in staged}
    going = [
        r
        for r in resources
        if not outcomes[r.name].failed and (r.name in names or outcomes[r.name].reload_owed)
    ]
    if guard is None or not going:
        return False
    try:
        return bool(stack.enter_context(guard(going)))
    except ConfpyError as e:
        for r in going:
            fail(outcomes[r.name], "slot", e, revision)
        return None
