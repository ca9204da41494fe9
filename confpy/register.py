"""Keep one key registered in etcd under a lease while this process (or its child) lives.

Replaces the articles' `ExecStartPost=etcdctl set` / `ExecStopPost=etcdctl rm`: the key is
put under a lease refreshed every ttl/3; a clean stop revokes the lease (the key goes at
once); a crash stops the refreshes (the key goes after the TTL). If etcd was away long
enough for the lease to expire, the key is put again under a new lease as soon as etcd
answers. The value is never logged: it may be a secret read from a file or variable.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import tenacity

from confpy.errors import ProcessError, StoreError, StoreUnavailableError
from confpy.log import get_logger
from confpy.wakeup import Wakeup

log = get_logger("confpy.register")


class LeaseStore(Protocol):
    """The part of `EtcdStore` registration needs (a fake in unit tests)."""

    def get(self, key: str) -> tuple[bytes | None, int]: ...
    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int: ...
    def grant_lease(self, ttl: int) -> int: ...
    def keep_alive(self, lease_id: int) -> int: ...
    def revoke_lease(self, lease_id: int) -> None: ...


class Registration:
    """Holds `key` = `value` under a lease of `ttl` seconds until `stop` is set.

    `sleep(seconds)` waits between steps and returns early when stopping; tests inject it.
    """

    def __init__(
        self,
        store: LeaseStore,
        key: str,
        value: bytes,
        ttl: int,
        *,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
        backoff_max: float | None = None,
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
        # Not `sleep`: that returns at once when stopping, and release runs when stopping.
        self.release_sleep: Callable[[float], None] = time.sleep
        self.lease: int | None = None
        self.registrations = 0
        self.registered = threading.Event()

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
        value, _ = self.store.get(self.key)
        if value is None:
            # Someone deleted the key (etcdctl rm) while our lease lives: we are still up.
            log.warning("key was deleted, putting it back", key=self.key, lease=_hex(self.lease))
            self.store.put(self.key, self.value, lease=self.lease)

    def _register(self) -> None:
        lease = self.store.grant_lease(self.ttl)
        try:
            self.store.put(self.key, self.value, lease=lease)
        except StoreError:
            # Don't leave a lease behind that nothing refreshes or revokes.
            with contextlib.suppress(StoreError):
                self.store.revoke_lease(lease)
            raise
        self.lease = lease
        self.registrations += 1
        self.registered.set()
        log.info("registered", key=self.key, lease=_hex(lease), ttl=self.ttl)

    def _pause(self, seconds: float) -> None:
        self.sleep(seconds)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Register and refresh until `stop` is set, then revoke. Never raises on outages."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "etcd unavailable, retrying",
                key=self.key,
                error=str(error),
                attempt=state.attempt_number,
                wait=round(state.next_action.sleep, 2) if state.next_action else None,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(StoreUnavailableError),
            wait=tenacity.wait_exponential_jitter(multiplier=0.1, max=self.backoff_max, jitter=0.2),
            stop=tenacity.stop_when_event_set(self.stop),
            sleep=self._pause,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            while not self.stop.is_set():
                try:
                    retrying(self.step)
                except StoreUnavailableError:
                    break  # stop was set while etcd was away
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
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(StoreUnavailableError),
            wait=tenacity.wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.1),
            stop=tenacity.stop_after_delay(min(float(self.ttl), 5.0)),
            sleep=self.release_sleep,
            reraise=True,
        )
        try:
            retrying(self.store.revoke_lease, lease)
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

_FORWARDED = (signal.SIGTERM, signal.SIGINT)

# A safety net: SIGCHLD wakes the loop when the command exits, but poll at least this often.
_POLL_INTERVAL = 1.0


def serve(registration: Registration, command: Sequence[str] = ()) -> int:
    """Keep `registration` alive until SIGTERM/SIGINT or until `command` exits.

    With a command: it starts first (as ExecStartPost ran after the service started),
    SIGTERM/SIGINT are forwarded to it, and its exit status is returned (128+N when a
    signal N ended it). Without one: returns 0 on SIGTERM/SIGINT. Must run in the main
    thread (signals arrive through a `Wakeup`, whichever thread the kernel picks).
    """
    wakeup = Wakeup((*_FORWARDED, signal.SIGCHLD) if command else _FORWARDED)
    with wakeup:
        child: subprocess.Popen[bytes] | None = None
        if command:
            try:
                child = subprocess.Popen(list(command))
            except OSError as e:
                raise ProcessError(f"cannot start {command[0]!r}: {e.strerror}") from None
            log.info("started command", command=command[0], pid=child.pid)
        keeper = threading.Thread(target=registration.run, name="confpy-register", daemon=True)
        keeper.start()
        try:
            code = _wait_for_end(wakeup, registration, child)
            if child is not None:
                log.info("command exited", command=command[0], status=child.returncode)
        finally:
            registration.stop.set()
            keeper.join()
    return code


def _wait_for_end(
    wakeup: Wakeup, registration: Registration, child: subprocess.Popen[bytes] | None
) -> int:
    """Forward stop signals to `child` until it exits (its code), or stop on one (0)."""
    while True:
        if child is not None and child.poll() is not None:
            status = child.returncode
            return 128 - status if status < 0 else status
        for sig in wakeup.wait(_POLL_INTERVAL):
            if sig == signal.SIGCHLD:
                continue
            log.info("signal received", signal=sig.name)
            if child is None:
                return 0
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(sig)
