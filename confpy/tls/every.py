"""`tls rotate --every`: keep the published certificate fresh, rotating with confpy.tls.rotate."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from confpy.backoff import Backoff, FailureLog
from confpy.errors import ConfigError, ConflictError, StoreError
from confpy.log import get_logger
from confpy.store.snapshot import Store
from confpy.tls import keypairs as tls
from confpy.tls.rotate import RotateOptions, rotate

log = get_logger(__name__)


def seconds_until_renewal(
    store: Store, opts: RotateOptions, renew_before: float, now: dt.datetime
) -> float:
    """How long the published certificate may stay; <= 0 means rotate now.

    Reading etcd rather than remembering our own certificate lets several hosts run
    `--every` on one prefix: whoever rotates first refreshes it for all.
    """
    data, _ = store.get(opts.cert_key)
    if data is None:
        return 0.0
    try:
        info = tls.inspect(tls.load_certificate(data, what=opts.cert_key))
    except ConfigError:
        log.warning("published certificate does not parse; replacing it", cert_key=opts.cert_key)
        return 0.0
    if opts.publish_key:
        key_pem, _ = store.get(opts.key_key)
        if key_pem is None:
            return 0.0
    elif opts.key_out is not None:
        # Certificate-only layout: our local key must be the one the certificate certifies,
        # or consumers would trust a certificate we cannot serve.
        try:
            local = tls.load_key(opts.key_out.read_bytes(), what=str(opts.key_out))
            cert = tls.load_certificate(data, what=opts.cert_key)
        except (OSError, ConfigError):
            return 0.0
        if not tls.key_matches_cert(local, cert):
            return 0.0
    return (info.not_after - now).total_seconds() - renew_before


def run_every(
    store: Store,
    opts: RotateOptions,
    *,
    every: float,
    renew_before: float,
    stop: threading.Event,
    rotate_first: bool = True,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    backoff_max: float = 30.0,
) -> int:
    """Rotate now (unless `rotate_first` is False), then check every `every` seconds and
    rotate when the published certificate is within `renew_before` of expiry, until `stop`.

    etcd's errors (any class) and lost races are retried with backoff, each kind logged once
    while it lasts; they never end the loop.
    Returns the number of rotations done.
    """
    log.info(
        "rotation loop starting",
        prefix=opts.prefix,
        cert_key=opts.cert_key,
        every=every,
        renew_before=renew_before,
    )
    rotations = 0
    force = rotate_first
    backoff = Backoff(0.5, backoff_max, jitter=0.5)
    failures = FailureLog(log, "rotation check failed, retrying", prefix=opts.prefix)
    while not stop.is_set():
        try:
            remaining = 0.0 if force else seconds_until_renewal(store, opts, renew_before, now())
            if remaining <= 0:
                rotate(store, opts)
                rotations += 1
                force = False
                remaining = seconds_until_renewal(store, opts, renew_before, now())
                if remaining <= 0:
                    # The published certificate is due at once: renew_before is too close
                    # to the validity. Don't spin: wait a full period.
                    remaining = every
            failures.recovered()
            wait = max(0.05, min(every, remaining))
            log.debug("next check", seconds=round(wait, 2))
        except (StoreError, ConflictError) as e:
            # Any etcd error, NOSPACE included: said once per kind while it lasts.
            wait = backoff.delay(failures.failures + 1)
            failures.failed(e, wait)
        stop.wait(wait)
    log.info("rotation loop stopped", prefix=opts.prefix, rotations=rotations)
    return rotations
