"""Stress tests of `confpy render --watch` as a real process: pauses, floods, several writers."""

from __future__ import annotations

import signal
import threading

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, read
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd


def _write(url: str, key: str, count: int, tag: str) -> None:
    store = EtcdStore(load_settings({"endpoints": url, "confdir": "/nonexistent"}, {}))
    try:
        for i in range(count):
            store.put(key, f"{tag}-{i}".encode())
    finally:
        store.close()


def _progress(store: EtcdStore, key: str, tag: str) -> int:
    """How many values a writer tagged `tag` has put to `key` so far (-1: none yet)."""
    value = (store.get(key)[0] or b"").decode()
    return int(value.rsplit("-", 1)[1]) if value.startswith(tag + "-") else -1


def test_a_flood_after_sigcont_reaches_the_file(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    etcd: str,
    watchers: list[Watcher],
) -> None:
    """SIGSTOP the daemon, 2,000 puts from three writer threads, SIGCONT half way: the file
    ends at etcd's last values within seconds, in each of five rounds (a lost wakeup
    would leave it stale until the next resync, ten minutes later)."""
    keys = ["/app/a", "/app/b", "/app/c"]
    dest = tree.simple("app", " ".join(f"{{{{ getv('{k}') }}}}" for k in keys), ["/app"])
    for k in keys:
        store.put(k, b"start")
    watchers.append(w := Watcher(confpy, tree, "--log-level", "warning"))
    wait_for(lambda: read(dest) == "start start start", what="first render")
    for round_ in range(5):
        w.proc.send_signal(signal.SIGSTOP)
        writers = [
            threading.Thread(target=_write, args=(etcd, k, n, f"r{round_}"))
            for k, n in zip(keys, (667, 667, 666), strict=True)
        ]
        try:
            for t in writers:
                t.start()
            # Resume while the writers are still at it: the watch thread then keeps
            # waking the loop while it drains the backlog.
            wait_for(
                lambda tag=f"r{round_}": _progress(store, keys[0], tag) >= 300,
                what="the writers to be half way",
            )
        finally:
            w.proc.send_signal(signal.SIGCONT)
        for t in writers:
            t.join()
        expected = " ".join((store.get(k)[0] or b"").decode() for k in keys)
        assert expected == f"r{round_}-666 r{round_}-666 r{round_}-665"
        wait_for(
            lambda expected=expected: read(dest) == expected,
            timeout=15,
            what=f"round {round_}: the last values after SIGCONT",
        )
    assert w.proc.poll() is None
