"""What a command hands the daemon: its typed options and the hooks it plugs in.

`WatchOptions` is the `render --watch` flags, typed; `Hooks` is how `render` and `exec`
attach systemd, a supervised child or a configuration reload without the daemon knowing
any of them. Nothing here runs anything.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from confpy.apply.runner import Config, RenderOptions
from confpy.config.resource import TemplateResource
from confpy.wakeup import Wakeup

DEFAULT_MIN_RELOAD_INTERVAL = 1.0
"""Seconds between two runs of one reload action while changes keep arriving (see
docs/operations.md): an isolated change still reloads at once; a burst of 1000 puts
(about 1 s on loopback) reloads 2 or 3 times instead of 40 to 140 (bench/watch.py)."""

DEFAULT_MAX_LAG = 30.0
"""Seconds a received change may wait to reach its file before /healthz says 503."""


@dataclass(frozen=True)
class WatchOptions:
    """How the daemon renders and paces itself (the `render --watch` flags, typed)."""

    render: RenderOptions = field(default_factory=RenderOptions)
    wait: tuple[float, float] | None = None
    """Debounce window MIN:MAX for resources without their own."""
    resync_interval: float = 600.0
    """Seconds between full re-reads while watching (0: never)."""
    interval: float | None = None
    """Poll every `interval` seconds instead of watching."""
    min_reload_interval: float = DEFAULT_MIN_RELOAD_INTERVAL
    max_lag: float = DEFAULT_MAX_LAG

    def silent_after(self, progress_interval: float | None) -> float | None:
        """How long etcd may stay silent before /healthz says so, given how often the store
        promises word from it; None when nothing promises regular word."""
        if self.interval is not None:
            return self.interval + self.max_lag
        return None if progress_interval is None else float(progress_interval) + self.max_lag


@dataclass(frozen=True)
class Pause:
    """How a hook that blocks inside the daemon's loop (a fleet reload slot) waits; the
    daemon's is `Daemon.pause`. `wait(seconds)` returns after a `wake()` (any thread), a
    signal (handed to the daemon) or `seconds`, and says False once the daemon stops."""

    wakeup: Wakeup
    on_signals: Callable[[list[signal.Signals]], object]
    stopping: threading.Event

    def wait(self, seconds: float) -> bool:
        if not self.stopping.is_set():
            self.on_signals(self.wakeup.wait(seconds))
        return not self.stopping.is_set()

    def wake(self) -> None:
        self.wakeup.wake()


@dataclass(frozen=True)
class Hooks:
    """What the command running the daemon plugs into it; every hook is optional."""

    load_config: Callable[[], Config] | None = None
    """Read the configuration again (SIGHUP); without it a reload request does nothing."""
    on_ready: Callable[[], object] | None = None
    """Called once every resource had its first render (systemd READY=1)."""
    watchdog: tuple[float, Callable[[], object]] | None = None
    """Call the function every so many seconds while the loop runs (systemd WATCHDOG=1)."""
    on_installed: Callable[[list[TemplateResource]], object] | None = None
    """After a change set installed files and ran their reloads: a reload action of the
    caller's own, run at most once per min_reload_interval (what is held back goes out
    later, all at once)."""
    ties: Callable[[TemplateResource], Iterable[Hashable]] | None = None
    """Extra reasons for resources to share a change set, beside their reload actions and
    the etcd transaction that touched them: equal ties are installed all or nothing."""
    command_guard: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
    """Held while check and reload commands run (e.g. to pause a child reaper)."""
    slots: Callable[[Sequence[TemplateResource]], AbstractContextManager[bool]] | None = None
    """Held from installing a change set's files to the end of its reloads, given the
    resources about to be installed or reloaded (fleet reload slots, `confpy.fleet.slots`);
    may block, waiting with `Daemon.pause`; enters True when it holds something."""
    signals: tuple[signal.Signals, ...] = ()
    """Caught for the whole of `run()` (which must then be on the main thread): SIGHUP
    means `request_reload()`, any other `stop()`."""
