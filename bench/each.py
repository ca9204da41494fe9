"""Measure an `each` resource with many matches: expand, render, install, remove.

No etcd: keys come from a `--data` fixture (the same code path from the snapshot on), so
the figures are confpy's own. Prints wall seconds for a first render (every file
created), an unchanged re-render, and a render after every key is gone (every file
removed), for N matches.

    .venv/bin/python bench/each.py [--matches 5000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conf.d").mkdir()
        (root / "templates").mkdir()
        (root / "out").mkdir()
        (root / "templates" / "vhost.j2").write_text(
            "server {{ each.name }} {\n  proxy_pass http://{{ getv(each.key + '/host') }}:"
            "{{ getv(each.key + '/port', '80') }};\n}\n"
        )
        (root / "conf.d" / "vhosts.toml").write_text(
            f'[template]\nsrc = "vhost.j2"\ndest = "{root}/out/{{{{ name }}}}.conf"\n'
            'each = "/services/*"\nkeys = ["/global"]\n'
        )
        full = root / "full.json"
        services = {
            f"s{i:05d}": {
                "host": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "port": 8000 + i % 1000,
            }
            for i in range(args.matches)
        }
        full.write_text(json.dumps({"services": services, "global": {"x": "1"}}))
        empty = root / "empty.json"
        empty.write_text(json.dumps({"global": {"x": "1"}}))

        def run(data: Path) -> float:
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "confpy",
                    "render",
                    "--onetime",
                    "--confdir",
                    str(root),
                    "--data",
                    str(data),
                    "--log-level",
                    "error",
                ],
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"render failed: {proc.stderr.strip()}")
            return elapsed

        first = run(full)
        created = len(list((root / "out").glob("*.conf")))
        again = run(full)
        gone = run(empty)
        left = len(list((root / "out").glob("*.conf")))
        print(
            f"{args.matches} matches: first render {first:.2f}s ({created} files created), "
            f"unchanged re-render {again:.2f}s, all keys gone {gone:.2f}s ({left} files left)"
        )


if __name__ == "__main__":
    main()
