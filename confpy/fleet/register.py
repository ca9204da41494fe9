"""Keep one key registered in etcd under a lease while this process (or its child) lives.

Replaces the articles' `ExecStartPost=etcdctl set` / `ExecStopPost=etcdctl rm`: the key is
put under a lease refreshed every ttl/3; a clean stop revokes the lease (the key goes at
once); a crash stops the refreshes (the key goes after the TTL). If etcd was away long
enough for the lease to expire, the key is put again under a new lease as soon as etcd
answers. The value is never logged: it may be a secret read from a file or variable.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import tenacity

from confpy.backoff import Backoff, FailureLog, retrying
from confpy.errors import StoreError, StoreUnavailableError
from confpy.log import get_logger
from confpy.store.snapshot import Store
from confpy.supervise.supervisor import Supervisor
from confpy.wakeup import Wakeup
from confpy.workers import Worker

log = get_logger(__name__)

RELEASE_WITHIN = 1.5
"""Seconds a stop spends revoking the lease (every command stops within 2 s of SIGTERM)."""


class Registration:
    """Holds `key` = `value` under a lease of `ttl` seconds until `stop` is set.

    `sleep(seconds)` waits between steps and returns early when stopping; tests inject it.
    """

    def __init__(
        self,
        store: Store,
        key: str,
        value: bytes,
        ttl: int,
        *,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
        backoff_max: float | None = None,
        retry_jitter: float = 0.2,
    ) -> None:
        self.store = store
        self.key = key
        self.value = value
        self.ttl = ttl
        self.stop = stop or threading.Event()
        self.sleep = sleep or self.stop.wait
        self.interval = max(ttl / 3, 0.2)
        # Retry no slower than the refresh interval: once etcd answers again, the key must
        # come back before consumers give up on it.
        self.backoff_max = backoff_max if backoff_max is not None else max(self.interval, 0.5)
        # Many keepers that lost etcd together (a fleet's status records) retry apart.
        self.retry_jitter = retry_jitter
        # Not `sleep`: that returns at once when stopping, and release runs when stopping.
        self.release_sleep: Callable[[float], None] = time.sleep
        self.lease: int | None = None
        self.registrations = 0
        self.registered = threading.Event()
        self._value_lock = threading.Lock()
        self._stale = False  # `replace_value` gave a value not yet put

    def replace_value(self, value: bytes) -> None:
        """Hold `value` from now on; the loop's next `step` puts it under the lease."""
        with self._value_lock:
            self.value, self._stale = value, True

    def _take_value(self) -> tuple[bytes, bool]:
        with self._value_lock:
            value, stale, self._stale = self.value, self._stale, False
        return value, stale

    # -- one step ----------------------------------------------------------------------------

    def step(self) -> None:
        """Register if we hold no lease, else refresh it; re-register if it expired."""
        if self.lease is None:
            self._register()
            return
        remaining = self.store.keep_alive(self.lease)
        if remaining <= 0:
            log.warning("lease expired, registering again", key=self.key, lease=_hex(self.lease))
            self.lease = None
            self.registered.clear()
            self._register()
            return
        value, stale = self._take_value()
        try:
            if not stale:
                found, _ = self.store.get(self.key)
                if found is not None:
                    return
                # Someone deleted the key (etcdctl rm) while our lease lives: we are still up.
                log.warning(
                    "key was deleted, putting it back", key=self.key, lease=_hex(self.lease)
                )
            self.store.put(self.key, value, lease=self.lease)
        except StoreError:
            with self._value_lock:
                self._stale = self._stale or stale  # put it at the next step
            raise

    def _register(self) -> None:
        lease = self.store.grant_lease(self.ttl)
        value, stale = self._take_value()
        try:
            self.store.put(self.key, value, lease=lease)
        except StoreError:
            with self._value_lock:
                self._stale = self._stale or stale
            # Don't leave a lease behind that nothing refreshes or revokes.
            with contextlib.suppress(StoreError):
                self.store.revoke_lease(lease)
            raise
        self.lease = lease
        self.registrations += 1
        self.registered.set()
        log.info("registered", key=self.key, lease=_hex(lease), ttl=self.ttl)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Register and refresh until `stop` is set, then revoke.

        Every etcd error is retried, whatever its class: unreachable, refused (roles being
        fixed), out of space (the NOSPACE alarm, until an operator disarms it). Each kind
        of failure is logged once while it lasts, and the recovery once.
        """
        failures = FailureLog(log, "etcd failing, retrying", key=self.key)
        retry = retrying(
            Backoff(0.1, self.backoff_max, jitter=self.retry_jitter),
            retry_on=StoreError,
            stop=tenacity.stop_when_event_set(self.stop),
            sleep=self.sleep,
            on_retry=failures.failed,
        )
        try:
            # A stop ends an exchange in flight at once: a frozen etcd must not hold a
            # SIGTERM for a request timeout.
            with self.store.cancelled_by(self.stop):
                while not self.stop.is_set():
                    try:
                        retry(self.step)
                    except StoreError:
                        break  # stop was set while etcd was failing
                    failures.recovered()
                    self.sleep(self.interval)
        finally:
            self.release()

    def release(self) -> None:
        """Revoke the lease, which deletes the key at once. If etcd is away, the TTL will."""
        lease, self.lease = self.lease, None
        self.registered.clear()
        if lease is None:
            return
        # Retry briefly: right after an etcd restart the channel may still be reconnecting.
        # Past the TTL there is no point: the key has expired by then anyway.
        # Within the 2 s a stop may take: past that the TTL removes the key anyway.
        retry = retrying(
            Backoff(0.05, 0.5, jitter=0.1),
            retry_on=StoreUnavailableError,
            stop=tenacity.stop_after_delay(min(float(self.ttl), RELEASE_WITHIN)),
            sleep=self.release_sleep,
        )
        try:
            retry(self.store.revoke_lease, lease, timeout=RELEASE_WITHIN / 2)
        except StoreError as e:
            log.warning(
                "could not revoke the lease; the key expires after its TTL",
                key=self.key,
                lease=_hex(lease),
                ttl=self.ttl,
                error=str(e),
            )
        else:
            log.info("deregistered", key=self.key, lease=_hex(lease))


def _hex(lease: int) -> str:
    return f"{lease:x}"


# -- supervising the command -------------------------------------------------------------------

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(registration: Registration, command: Sequence[str] = ()) -> int:
    """Keep `registration` alive until SIGTERM/SIGINT or until `command` exits.

    With a command: it starts first (as ExecStartPost ran after the service started) under
    the same `Supervisor` as `confpy exec`, which forwards signals to its process group and
    returns its exit status (128+N when a signal N ended it); the key goes when it exits.
    Without one: returns 0 on SIGTERM/SIGINT. Must run in the main thread (signals arrive
    through a `Wakeup`, whichever thread the kernel picks).

    If the registration thread dies of anything unexpected, the command is stopped and
    `WorkerDiedError` raised: never a process that lives on without its registration.
    """
    if not command:
        with Wakeup(_STOP_SIGNALS) as wakeup, _kept(registration, wakeup.wake) as keeper:
            sig = _wait_for_stop_signal(wakeup, keeper)
            log.info("stop signal received, deregistering", signal=sig.name)
        return 0
    # No kill timeout: the service takes as long as it needs to stop (the init system's own
    # stop timeout still applies), and the key stays until it has.
    supervisor = Supervisor(command, reload_signal=None, kill_timeout=math.inf)
    supervisor.start()  # a command that cannot start fails before anything is registered
    with _kept(registration, supervisor.stop) as keeper:
        code = supervisor.run()
    keeper.check()
    return code


@contextlib.contextmanager
def _kept(registration: Registration, on_death: Callable[[], object]) -> Iterator[Worker]:
    """Run `registration` in a worker while inside; stop it and wait for the revoke after.

    `on_death` is called if the worker dies of an error."""
    keeper = Worker("confpy-register", registration.run, on_death=on_death).start()
    try:
        yield keeper
    finally:
        registration.stop.set()
        keeper.join()


def _wait_for_stop_signal(wakeup: Wakeup, keeper: Worker) -> signal.Signals:
    while True:
        for sig in wakeup.wait(None):
            return sig
        keeper.check()
