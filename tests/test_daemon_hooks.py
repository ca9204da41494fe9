"""What a command plugs into the daemon (`Hooks`) changes what it does, and nothing else.

Real files, an in-memory store (`MemoryStore`): `exec` is a client of these hooks, so the
rules it relies on are pinned here without a child process or an etcd.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from confpy.apply.runner import load_config
from confpy.config.resource import TemplateResource
from confpy.testing.memory import MemoryStore
from confpy.watch.daemon import Daemon
from confpy.watch.options import Hooks, WatchOptions
from tests.conftest import wait_for
from tests.helpers import ConfTree


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(lambda: daemon.status.started, what="the first render")
        yield daemon
    finally:
        daemon.stop()
        thread.join(timeout=20)


def two_resources(tree: ConfTree) -> tuple[Path, Path]:
    """`a` renders; `b` needs a key that is missing, so it fails."""
    a = tree.simple("a", "{{ getv('/a') }}", ["/a"])
    b = tree.simple("b", "{{ getv('/b') }}", ["/b"])
    return a, b


def test_without_a_tie_a_failing_resource_does_not_hold_back_another(tree: ConfTree) -> None:
    a, b = two_resources(tree)
    daemon = Daemon(load_config(tree.confdir), MemoryStore({"/a": "1"}))
    with running(daemon):
        assert a.read_text() == "1" and not b.exists()


def test_a_ties_hook_installs_tied_resources_all_or_nothing(tree: ConfTree) -> None:
    """Resources the hook ties (as `exec` ties the files its child reads) form one change set."""
    a, b = two_resources(tree)
    hooks = Hooks(ties=lambda r: ["same service"])
    daemon = Daemon(load_config(tree.confdir), MemoryStore({"/a": "1"}), hooks=hooks)
    with running(daemon):
        assert not a.exists() and not b.exists()
        assert set(daemon.status.health()["failing"]) == {"a", "b"}


def test_on_installed_hears_of_each_change_set_and_is_rate_limited(tree: ConfTree) -> None:
    """The after-install hook is a reload action: at most once per min_reload_interval,
    and what was held back is delivered later, not lost."""
    a = tree.simple("a", "{{ getv('/a') }}", ["/a"])
    heard: list[list[str]] = []
    at: list[float] = []

    def on_installed(resources: list[TemplateResource]) -> None:
        heard.append([r.name for r in resources])
        at.append(time.monotonic())

    store = MemoryStore({"/a": "1"})
    options = WatchOptions(min_reload_interval=0.3)
    daemon = Daemon(load_config(tree.confdir), store, options, Hooks(on_installed=on_installed))
    with running(daemon):
        wait_for(lambda: heard == [["a"]], what="the first install reported")
        store.put("/a", b"2")
        wait_for(lambda: a.read_text() == "2", what="the second file")
        wait_for(lambda: heard == [["a"], ["a"]], what="the held-back report delivered")
    assert at[1] - at[0] >= 0.3  # the limiter's spacing, not a speed
