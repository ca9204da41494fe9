"""Render the published confd setups of tests/confd_corpus with confd and with confpy.

    .venv/bin/python bench/confd_corpus.py [--show CASE]

Starts an etcd, renders every case with the real confd (the anchor binary, or $CONFD_BIN)
and with confpy on confd's command line, runs `confpy check` on each published resource,
and prints one line per case (identical / both-err / DIFFER, and check's verdict) and the
totals. `--show CASE` prints both outputs and what each tool said for the cases named.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.confd_corpus.runner import (  # noqa: E402
    CONFD,
    CorpusRunner,
    confd_available,
    load_cases,
    table,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="append", default=[], help="a case name (substring)")
    args = parser.parse_args()
    if not confd_available():
        print(f"skipped: the confd binary is absent ({CONFD}; set CONFD_BIN)")
        return 0
    from confpy.config.settings import load_settings
    from confpy.store import EtcdStore
    from confpy.testing.etcd import EtcdServer

    with tempfile.TemporaryDirectory(prefix="confd-corpus-") as tmp:
        work = Path(tmp)
        server = EtcdServer(work / "etcd")
        server.start()
        store = EtcdStore(load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}))
        try:
            started = time.monotonic()
            runner = CorpusRunner(server.url, work / "run", store.put)
            results = runner.run(load_cases(), convert=True)
            elapsed = time.monotonic() - started
        finally:
            store.close()
            server.stop()
    print(table(results))
    print(f"{elapsed:.1f}s; confpy crashes: {len(runner.crashes)}")
    for crash in runner.crashes:
        print(crash)
    for r in results:
        if any(s in r.case.name for s in args.show):
            print(f"===== {r.case.name}\n--- confd said:\n{r.confd_said}")
            print(f"--- confd:\n{r.confd.content.decode(errors='replace') if r.confd else None}")
            print(f"--- confpy:\n{r.confpy.content.decode(errors='replace') if r.confpy else None}")
            if r.was_converted:
                c = r.converted
                print(f"--- converted:\n{c.content.decode(errors='replace') if c else None}")
            print(f"--- check ({r.check_rc}):\n{r.check_said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
