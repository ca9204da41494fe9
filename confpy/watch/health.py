"""The daemon's status, `/healthz` and `/metrics` (Prometheus text format) over HTTP.

`Status` is written by the daemon's threads and read by the HTTP server; every change goes
through one of its methods, which take its lock (a lock no caller ever holds itself).
"""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from confpy.errors import ConfigError
from confpy.redact import one_line

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_COUNTERS = (
    ("renders", "Resources rendered"),
    ("render_failures", "Resource renders, checks, installs or reloads that failed"),
    ("installs", "Files installed"),
    ("reloads", "Reload actions run (commands, signals, restarts)"),
    ("reload_failures", "Reload actions that failed (retried with backoff)"),
    ("reloads_deferred", "Reloads put off by min_reload_interval during a burst of changes"),
    ("reconnects", "Watch reconnections to etcd"),
    ("resyncs", "Full snapshot re-renders"),
    ("config_reloads", "SIGHUP configurations accepted"),
    ("config_refusals", "SIGHUP configurations refused"),
)


class Status:
    """Counters and state shared between the daemon and the health endpoint.

    Times are on the injected monotonic `clock`. `/healthz` is healthy only when no
    `reasons()` apply: connected to etcd, no resource or reload failing, the last SIGHUP
    configuration accepted, no change waiting to reach its file for longer than
    `max_lag`, and etcd heard from (a batch or a progress notification) within
    `silent_after` when that bound is known.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.started = False
        self.connected = False
        self.synced = False
        self.resync_pending = False
        self.revision = 0
        self.etcd_revision = 0
        self.failing: dict[str, str] = {}
        self.failing_reloads: set[str] = set()
        self.config_error: str | None = None
        self.waiting_for: str | None = None
        self.behind_since: float | None = None
        self.last_heard: float | None = None
        self.max_lag = 30.0
        self.silent_after: float | None = None
        self.counters: dict[str, int] = {name: 0 for name, _ in _COUNTERS}
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_total = 0

    def count(self, name: str, n: int = 1) -> None:
        if name not in self.counters:  # a misspelt name fails here, not silently
            raise ValueError(f"no such counter: {name}")
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def observe_latency(self, seconds: float) -> None:
        with self._lock:
            self.latency_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self.latency_sum += seconds
            self.latency_total += 1

    def set_bounds(self, max_lag: float, silent_after: float | None) -> None:
        """How long a change may wait for its file, and etcd stay silent, while healthy."""
        with self._lock:
            self.max_lag, self.silent_after = max_lag, silent_after

    def mark_started(self) -> None:
        """Every resource had its first render (whether or not it succeeded)."""
        with self._lock:
            self.started = True

    def set_connected(self, connected: bool) -> None:
        with self._lock:
            self.connected = connected

    def set_synced(self, synced: bool) -> None:
        """Whether every file reflects the applied revision (nothing pending or failing)."""
        with self._lock:
            self.synced = synced

    def resync_needed(self) -> None:
        """A full snapshot must replace the daemon's view (compaction, a watch gap, etcd
        gone back): until one has, the daemon cannot know it is in sync."""
        with self._lock:
            self.resync_pending = True

    def resync_done(self) -> None:
        with self._lock:
            self.resync_pending = False

    def start_over(self, revision: int) -> None:
        """etcd went back (wiped, replaced, restored): forget the revisions of the old one."""
        with self._lock:
            self.revision = self.etcd_revision = revision

    def set_revision(self, revision: int) -> None:
        """The etcd revision the daemon's view (and, once synced, the files) reflect."""
        with self._lock:
            self.revision = revision

    def config_refused(self, error: str) -> None:
        """The last SIGHUP configuration was refused with `error` (no values in it)."""
        with self._lock:
            self.config_error = error

    def set_waiting(self, what: str | None) -> None:
        """What the daemon is blocked on (a fleet reload slot), or None."""
        with self._lock:
            self.waiting_for = what

    def config_accepted(self) -> None:
        with self._lock:
            self.config_error = None

    def resource_failed(self, name: str, message: str, *, reload: bool = False) -> None:
        """`name` is failing with `message`; `reload`: its file is in place, its reload not."""
        with self._lock:
            self.failing[name] = message
            if reload:
                self.failing_reloads.add(name)
            else:
                self.failing_reloads.discard(name)

    def resource_recovered(self, name: str) -> None:
        with self._lock:
            self.failing.pop(name, None)
            self.failing_reloads.discard(name)

    def keep_resources(self, names: Collection[str]) -> None:
        """Forget the failures of resources no longer configured (after SIGHUP)."""
        with self._lock:
            for gone in set(self.failing) - set(names):
                del self.failing[gone]
            self.failing_reloads &= set(names)

    def heard(self, revision: int) -> None:
        """etcd spoke (a watch batch, a progress notification, a snapshot) at `revision`."""
        with self._lock:
            self.last_heard = self.clock()
            self.etcd_revision = max(self.etcd_revision, revision)

    def behind(self, since: float | None = None) -> None:
        """A change is on its way to the files; the lag clock starts unless already running."""
        with self._lock:
            if self.behind_since is None:
                self.behind_since = self.clock() if since is None else since

    def caught_up(self, when: Callable[[], bool]) -> None:
        """Stop the lag clock if `when()` holds, checked under the lock `behind()` takes."""
        with self._lock:
            if when():
                self.behind_since = None

    def _lag(self, now: float) -> float:
        return 0.0 if self.behind_since is None else max(0.0, now - self.behind_since)

    def _silence(self, now: float) -> float:
        return 0.0 if self.last_heard is None else max(0.0, now - self.last_heard)

    def _reasons(self, now: float) -> list[str]:
        reasons = []
        if not self.started:
            reasons.append("starting: first render not done")
        elif not self.connected:
            reasons.append("not connected to etcd")
        if set(self.failing) - self.failing_reloads:
            names = sorted(set(self.failing) - self.failing_reloads)
            reasons.append(f"{len(names)} resource(s) failing: {', '.join(names)}")
        if self.failing_reloads:
            names = sorted(self.failing_reloads)
            reasons.append(f"reload failing for: {', '.join(names)}")
        if self.config_error is not None:
            reasons.append("last configuration reload (SIGHUP) refused")
        lag = self._lag(now)
        if lag > self.max_lag:
            reasons.append(f"behind etcd for {lag:.0f}s (bound {self.max_lag:g}s)")
        silence = self._silence(now)
        if self.silent_after is not None and self.started and silence > self.silent_after:
            reasons.append(
                f"nothing heard from etcd for {silence:.0f}s (bound {self.silent_after:g}s)"
            )
        return reasons

    def _in_sync(self, now: float) -> bool:
        """Known to be in sync: every file reflects the newest revision heard of, and the
        daemon is in a position to know it (connected, etcd not silent past its bound, no
        resync pending, no change on its way, nothing failing)."""
        silent = self.silent_after is not None and self._silence(now) > self.silent_after
        return (
            self.started
            and self.connected
            and self.synced
            and not silent
            and not self.resync_pending
            and self.behind_since is None
            and self.revision >= self.etcd_revision
        )

    @property
    def healthy(self) -> bool:
        with self._lock:
            return not self._reasons(self.clock())

    def health(self) -> dict[str, Any]:
        """The /healthz body (see docs/operations.md, "Health and metrics")."""
        with self._lock:
            now = self.clock()
            reasons = self._reasons(now)
            return {
                "healthy": not reasons,
                "reasons": reasons,
                "connected": self.connected,
                "in_sync": self._in_sync(now),
                "revision": self.revision,
                "etcd_revision": self.etcd_revision,
                "lag_seconds": round(self._lag(now), 3),
                "last_heard_seconds": None
                if self.last_heard is None
                else round(self._silence(now), 3),
                # Messages were redacted where they were made; one_line also bounds
                # what a check command's output can put in this unauthenticated body.
                "failing": {name: one_line(text) for name, text in self.failing.items()},
                "failing_reloads": sorted(self.failing_reloads),
                "config_error": self.config_error,
                "waiting_for": self.waiting_for,
            }

    def metrics(self) -> str:
        with self._lock:
            now = self.clock()
            lines = []
            for name, help_text in _COUNTERS:
                lines += [
                    f"# HELP confpy_{name}_total {help_text}.",
                    f"# TYPE confpy_{name}_total counter",
                    f"confpy_{name}_total {self.counters.get(name, 0)}",
                ]
            lines += [
                "# HELP confpy_last_applied_revision The etcd revision the files reflect.",
                "# TYPE confpy_last_applied_revision gauge",
                f"confpy_last_applied_revision {self.revision}",
                "# HELP confpy_in_sync Whether every file is known to reflect etcd now.",
                "# TYPE confpy_in_sync gauge",
                f"confpy_in_sync {int(self._in_sync(now))}",
                "# HELP confpy_connected Whether the watch on etcd is established.",
                "# TYPE confpy_connected gauge",
                f"confpy_connected {int(self.connected)}",
                "# HELP confpy_failing_resources Resources currently failing.",
                "# TYPE confpy_failing_resources gauge",
                f"confpy_failing_resources {len(self.failing)}",
                "# HELP confpy_healthy Whether /healthz answers 200.",
                "# TYPE confpy_healthy gauge",
                f"confpy_healthy {int(not self._reasons(now))}",
                "# HELP confpy_failing_reloads Resources whose reload is failing.",
                "# TYPE confpy_failing_reloads gauge",
                f"confpy_failing_reloads {len(self.failing_reloads)}",
                "# HELP confpy_config_refused Whether the last SIGHUP configuration was refused.",
                "# TYPE confpy_config_refused gauge",
                f"confpy_config_refused {int(self.config_error is not None)}",
                "# HELP confpy_etcd_revision The newest etcd revision heard of.",
                "# TYPE confpy_etcd_revision gauge",
                f"confpy_etcd_revision {self.etcd_revision}",
                "# HELP confpy_lag_seconds How long the oldest change not yet in its file waits.",
                "# TYPE confpy_lag_seconds gauge",
                f"confpy_lag_seconds {self._lag(now):.3f}",
                "# HELP confpy_etcd_silence_seconds Time since etcd last sent anything.",
                "# TYPE confpy_etcd_silence_seconds gauge",
                f"confpy_etcd_silence_seconds {self._silence(now):.3f}",
                "# HELP confpy_change_to_file_seconds Change received to file installed.",
                "# TYPE confpy_change_to_file_seconds histogram",
            ]
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self.latency_counts, strict=False):
                cumulative += count
                lines.append(f'confpy_change_to_file_seconds_bucket{{le="{bound}"}} {cumulative}')
            lines.append(f'confpy_change_to_file_seconds_bucket{{le="+Inf"}} {self.latency_total}')
            lines.append(f"confpy_change_to_file_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"confpy_change_to_file_seconds_count {self.latency_total}")
            return "\n".join(lines) + "\n"


def parse_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--health-addr: expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(status: Status, addr: str) -> ThreadingHTTPServer:
    """Serve /healthz and /metrics in a background thread; return the server to shut down."""
    host, port = parse_addr(addr)

    # Here, not at the top: http.server brings http.client, email and ssl (~7 MB, ~25 ms),
    # which a daemon without --health-addr never uses.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/healthz":
                health = status.health()
                body = json.dumps(health).encode()
                code = 200 if health["healthy"] else 503
                ctype = "application/json"
            elif self.path.split("?")[0] == "/metrics":
                body, code, ctype = status.metrics().encode(), 200, "text/plain; version=0.0.4"
            else:
                body, code, ctype = b"not found\n", 404, "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        raise ConfigError(f"--health-addr: cannot listen on {addr}: {e.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="confpy-health", daemon=True).start()
    return server
