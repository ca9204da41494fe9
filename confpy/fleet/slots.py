"""Fleet reload slots: at most N daemons of a group between install and end of reload.

etcd's semaphore recipe. A daemon that wants a slot of GROUP puts `PREFIX/GROUP/OWNER`
under a lease of its own (a `confpy.fleet.register.Registration`, refreshed every ttl/3); the N
keys with the lowest create revisions hold the slots, the others watch the group for a
deletion and look again. Releasing revokes the lease, which deletes the key at once; a
daemon that dies holding a slot frees it when its lease expires (`SLOT_TTL`).

Waiting happens inside the daemon's loop through its `Pause`, so a SIGTERM still ends
the wait at once. Taking a slot never waits for etcd: if etcd cannot be asked, the change
set fails (step "slot") and is retried with the daemon's backoff.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from confpy.config.resource import TemplateResource
from confpy.errors import InstallError, StoreError
from confpy.fleet.register import Registration
from confpy.log import get_logger
from confpy.store.snapshot import Store
from confpy.watch.health import Status
from confpy.watch.options import Pause

if TYPE_CHECKING:
    from confpy.store._prefix import Entry

log = get_logger(__name__)

SLOT_TTL = 10
"""Seconds a slot outlives a daemon killed while holding it (lease TTL; at most 15)."""
LOOK_AGAIN = 5.0
"""While waiting, look at the group again this often even if the watch said nothing."""
RELEASE_WAIT = 1.0
"""How long releasing waits for the lease's revocation before leaving it to the TTL."""


class SlotStore(Store, Protocol):
    def read_prefix(self, prefix: str) -> tuple[int, list[Entry]]: ...


class Slots:
    """Takes the slots of the fleet groups of a change set's resources (`Hooks.slots`)."""

    def __init__(
        self, store: SlotStore, status: Status, *, prefix: str, owner: str, ttl: int = SLOT_TTL
    ) -> None:
        self.store, self.status = store, status
        self.prefix = prefix.rstrip("/")
        self.owner, self.ttl = owner, ttl

    @contextlib.contextmanager
    def hold(self, resources: Sequence[TemplateResource], pause: Pause) -> Iterator[bool]:
        """One slot of each group of `resources` (in name order, so that two daemons never
        wait on each other), held while inside; yields whether any was needed."""
        groups: dict[str, int] = {}
        for r in resources:
            if r.fleet is not None:
                name, n = r.fleet
                groups[name] = min(n, groups.get(name, n))
        if not groups:
            yield False
            return
        with contextlib.ExitStack() as held:
            for name in sorted(groups):
                held.enter_context(self._slot(name, groups[name], pause))
            yield True

    @contextlib.contextmanager
    def _slot(self, group: str, n: int, pause: Pause) -> Iterator[None]:
        key = f"{self.prefix}/{group}/{self.owner}"
        registration = Registration(self.store, key, self.owner.encode(), self.ttl)
        registration.step()  # grant and put now: a StoreError fails the change set
        keeper = threading.Thread(target=registration.run, name="confpy-slot", daemon=True)
        keeper.start()
        try:
            self._wait(group, n, key, pause)
            yield
        finally:
            self.status.set_waiting(None)
            registration.stop.set()  # revokes the lease: the key goes, the next one may go
            keeper.join(RELEASE_WAIT)
            log.info("fleet slot released", group=group)

    def _wait(self, group: str, n: int, key: str, pause: Pause) -> None:
        """Return once `key` is among the `n` oldest of its group; raise when stopping."""
        while True:
            revision, entries = self.store.read_prefix(f"{self.prefix}/{group}")
            keys = [e.key for e in entries]
            if key in keys[:n]:
                log.info("fleet slot taken", group=group, concurrency=n, waiters=len(keys) - n)
                return
            ahead = keys.index(key) if key in keys else len(keys)
            self.status.set_waiting(f"fleet slot {group}: {ahead - n + 1} ahead")
            log.info("waiting for a fleet slot", group=group, concurrency=n, position=ahead)
            self._until_deleted(group, key, revision, pause)

    def _until_deleted(self, group: str, key: str, revision: int, pause: Pause) -> None:
        """Wait for a deletion in the group (or our own key put back) after `revision`."""
        seen = threading.Event()
        stop = threading.Event()

        def watch() -> None:
            try:
                for batch in self.store.watch([f"{self.prefix}/{group}"], revision + 1, stop):
                    if any(e.value is None or e.key == key for e in batch.events):
                        break
            except StoreError as e:
                log.warning("fleet slot watch failed, looking again", group=group, error=str(e))
            finally:
                seen.set()
                pause.wake()

        watcher = threading.Thread(target=watch, name="confpy-slot-watch", daemon=True)
        watcher.start()
        try:
            deadline = time.monotonic() + LOOK_AGAIN
            while not seen.is_set() and (left := deadline - time.monotonic()) > 0:
                if not pause.wait(left):
                    raise InstallError(
                        "not installed: stopped while waiting for a fleet reload slot",
                        dest=group,
                    )
        finally:
            stop.set()
