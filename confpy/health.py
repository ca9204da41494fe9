"""The daemon's status, `/healthz` and `/metrics` (Prometheus text format) over HTTP.

`Status` is written by the daemon's threads under one lock and read by the HTTP server.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from confpy.errors import ConfigError
from confpy.redact import one_line

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Status:
    """Counters and state shared between the daemon and the health endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connected = False
        self.synced = False
        self.revision = 0
        self.failing: dict[str, str] = {}
        self.counters: dict[str, int] = {
            "renders": 0,
            "render_failures": 0,
            "installs": 0,
            "reloads": 0,
            "reconnects": 0,
            "resyncs": 0,
        }
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_total = 0

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def observe_latency(self, seconds: float) -> None:
        with self.lock:
            self.latency_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self.latency_sum += seconds
            self.latency_total += 1

    def set(self, **fields: Any) -> None:
        with self.lock:
            for k, v in fields.items():
                setattr(self, k, v)

    @property
    def healthy(self) -> bool:
        return self.connected and self.synced and not self.failing

    def health(self) -> dict[str, Any]:
        with self.lock:
            return {
                "healthy": self.healthy,
                "connected": self.connected,
                "in_sync": self.synced,
                "revision": self.revision,
                # Messages were redacted where they were made; one_line also bounds
                # what a check command's output can put in this unauthenticated body.
                "failing": {name: one_line(text) for name, text in self.failing.items()},
            }

    def metrics(self) -> str:
        with self.lock:
            lines = []
            for name, help_text in (
                ("renders", "Resources rendered"),
                ("render_failures", "Resource renders, checks, installs or reloads that failed"),
                ("installs", "Files installed"),
                ("reloads", "Reload actions run (commands, signals, restarts)"),
                ("reconnects", "Watch reconnections to etcd"),
                ("resyncs", "Full snapshot re-renders"),
            ):
                lines += [
                    f"# HELP confpy_{name}_total {help_text}.",
                    f"# TYPE confpy_{name}_total counter",
                    f"confpy_{name}_total {self.counters.get(name, 0)}",
                ]
            lines += [
                "# HELP confpy_last_applied_revision The etcd revision the files reflect.",
                "# TYPE confpy_last_applied_revision gauge",
                f"confpy_last_applied_revision {self.revision}",
                "# HELP confpy_connected Whether the watch on etcd is established.",
                "# TYPE confpy_connected gauge",
                f"confpy_connected {int(self.connected)}",
                "# HELP confpy_failing_resources Resources currently failing.",
                "# TYPE confpy_failing_resources gauge",
                f"confpy_failing_resources {len(self.failing)}",
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

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/healthz":
                body = json.dumps(status.health()).encode()
                code = 200 if status.healthy else 503
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
