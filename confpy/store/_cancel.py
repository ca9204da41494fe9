"""Cancelling exchanges with etcd from another thread: scopes, and the stop event that ends them.

A `Scope` holds the connections one caller has open; `cancel()` closes them all, which
ends every read blocked on them at once, and refuses new ones. `cancel_on(stop, scope)`
cancels the scope when a `threading.Event` is set, with one waiting thread per event
(not per scope), so that a stop event shared by many watches costs one thread.
"""

from __future__ import annotations

import threading
import weakref

from confpy.store._wire import Cancelled, Connection


class Scope:
    """The connections one caller (a watch) has open, all cancelled at once by `cancel()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: set[Connection] = set()
        self.cancelled = False

    def add(self, conn: Connection) -> None:
        with self._lock:
            if not self.cancelled:
                self._conns.add(conn)
                return
        conn.cancel()
        raise Cancelled("stopped")

    def discard(self, conn: Connection) -> None:
        with self._lock:
            self._conns.discard(conn)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            conn.cancel()


_waiters: weakref.WeakKeyDictionary[threading.Event, list[weakref.ref[Scope]]] = (
    weakref.WeakKeyDictionary()
)
_waiters_lock = threading.Lock()


def cancel_on(stop: threading.Event, scope: Scope) -> None:
    """Cancel `scope` when `stop` is set: one waiting thread per event, not per watch."""
    with _waiters_lock:
        scopes = _waiters.get(stop)
        if scopes is None:
            scopes = _waiters[stop] = []
            threading.Thread(
                target=_wait_and_cancel, args=(stop,), name="confpy-watch-cancel", daemon=True
            ).start()
        scopes[:] = [r for r in scopes if r() is not None]
        scopes.append(weakref.ref(scope))
    if stop.is_set():
        scope.cancel()


def _wait_and_cancel(stop: threading.Event) -> None:
    stop.wait()
    with _waiters_lock:
        scopes = _waiters.pop(stop, [])
    for ref in scopes:
        if (scope := ref()) is not None:
            scope.cancel()
