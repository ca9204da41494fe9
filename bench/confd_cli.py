"""`confd -onetime` and `confpy confd -onetime` with the same command line, side by side.

For each backend (etcdv3 on a local etcd, env, file) one confdir with one Go template
resource per tool; each tool runs 10 times with its files current (nothing to write),
and the median wall time of a process is printed. confd is /work/shared/anchors/confd
(or --confd PATH).

    .venv/bin/python bench/confd_cli.py [--runs 10] [--confd PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = '{{range gets "/app/*"}}{{.Key}}={{.Value}}\n{{end}}'


def confdir(root: Path, out: Path) -> Path:
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "app.tmpl").write_text(TEMPLATE)
    (root / "conf.d" / "app.toml").write_text(
        f'[template]\nsrc = "app.tmpl"\ndest = "{out}"\nkeys = ["/app"]\n'
    )
    return root


def median_run(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs + 1):  # the first run writes the file; it is not counted
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {result.stderr.decode()[-300:]}")
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--confd", default="/work/shared/anchors/confd")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="confd-cli-bench-"))
    from confpy.testing.etcd import EtcdServer

    server = EtcdServer(work / "etcd")
    server.start()
    subprocess.run(
        [sys.executable, "-c", "import sys; from confpy.config.settings import load_settings;"
         "from confpy.store import EtcdStore; s = EtcdStore(load_settings({'endpoints': "
         "sys.argv[1], 'confdir': '/nonexistent'}, {}));"
         "[s.put(f'/app/k{i}', b'v') for i in range(20)]", server.url],
        check=True,
    )  # fmt: skip
    data = work / "data.yaml"
    data.write_text("app:\n" + "".join(f"  k{i}: v\n" for i in range(20)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFD_", "CONFPY_"))}
    # An installed confpy has its bytecode compiled: let the uncounted first run write it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env |= {f"APP_K{i}": "v" for i in range(20)} | {"CONFPY_LOG_FORMAT": "json"}
    backends = {
        "etcdv3": ["-backend", "etcdv3", "-node", server.url],
        "env": ["-backend", "env"],
        "file": ["-backend", "file", "-file", str(data)],
    }
    print(f"median wall time of one -onetime process, files current ({args.runs} runs)")
    print(f"{'backend':<8} {'confd':>9} {'confpy confd':>13}")
    try:
        for name, flags in backends.items():
            row = []
            for tool, program in (("confd", [args.confd]),
                                  ("confpy", [sys.executable, "-m", "confpy", "confd"])):  # fmt: skip
                cdir = confdir(work / name / tool, work / name / f"out-{tool}")
                argv = [*program, "-onetime", *flags, "-confdir", str(cdir), "-log-level", "error"]
                if tool == "confd" and not Path(args.confd).is_file():
                    row.append("-")
                    continue
                row.append(f"{median_run(argv, env, args.runs) * 1000:.0f} ms")
            print(f"{name:<8} {row[0]:>9} {row[1]:>13}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
