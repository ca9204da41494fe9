"""`render --onetime` (and `exec`'s first render): one snapshot, every resource, once.

With `wait_for_keys`, `retry_until` retries while etcd is away or keys a template needs are
missing, with backoff, holding the deadline: this replaces
`until confd -onetime ...; do sleep 5; done`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confpy.apply.plan import Plan
from confpy.apply.report import Report
from confpy.apply.runner import Config, RenderOptions, apply, plan_change_set, render_all
from confpy.errors import ConfpyError, KeysMissingError, MissingKeyError, StoreUnavailableError
from confpy.log import get_logger
from confpy.store.snapshot import Snapshot, Store

log = get_logger(__name__)
T = TypeVar("T")


def run_onetime(
    config: Config,
    store: Store,
    options: RenderOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Render every resource once; with `wait_for_keys`, retry until etcd and the keys are there."""

    def attempt() -> tuple[Snapshot, Plan, dict[str, bytes], dict[str, ConfpyError]]:
        snapshot = store.snapshot(config.patterns)
        plan = plan_change_set(config, config.resources, snapshot)
        rendered, failures = render_all(config, plan, snapshot)
        missing = sorted({e.key for e in failures.values() if isinstance(e, MissingKeyError)})
        if missing and options.wait_for_keys > 0:
            raise KeysMissingError(missing)
        return snapshot, plan, rendered, failures

    if options.wait_for_keys > 0:
        snapshot, plan, rendered, failures = retry_until(
            attempt, options.wait_for_keys, sleep=sleep, clock=clock
        )
    else:
        snapshot, plan, rendered, failures = attempt()
    log.debug("snapshot read", revision=snapshot.revision, keys=len(snapshot.values))
    return apply(plan, snapshot, rendered, failures, options, atomic=False)


def retry_until(
    fn: Callable[[], T],
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fn` until it succeeds, retrying unavailability and missing keys with backoff.

    The deadline holds: no wait runs past `timeout` seconds after the first call, the
    last attempt is made at the deadline, and then the last error is raised.
    """
    import tenacity

    from confpy.backoff import WAITING_FOR_ETCD, retrying

    def say(error: BaseException, wait: float) -> None:
        if isinstance(error, KeysMissingError):
            log.warning("waiting for keys", missing=error.keys, retry_in=round(wait, 2))
        else:
            log.warning("waiting for etcd", error=str(error), retry_in=round(wait, 2))

    retry = retrying(
        WAITING_FOR_ETCD,
        retry_on=(StoreUnavailableError, KeysMissingError),
        stop=tenacity.stop_never,
        sleep=sleep,
        on_retry=say,
        deadline=clock() + timeout,
        clock=clock,
    )
    return retry(fn)
