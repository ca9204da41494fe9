"""Render random confd templates with the real confd and with confpy; print agreement.

    .venv/bin/python bench/confd_diff.py --count 5000 --seed 1

Each case is rendered by confd (the anchor binary, or $CONFD_BIN) and by
`confpy render --onetime` on one etcd; then `confpy convert` and render the Jinja. A case
agrees when the bytes are identical or both refuse. Prints the figures for direct and
converted rendering, process crashes, and (with --show N) the first disagreements.
`--regen-corpus` rewrites tests/gocorpus/*/expected.out from confd.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.confd_diff import Case, DiffRunner, confd_available, summarize  # noqa: E402
from tests.gogen import docs_cases, generate  # noqa: E402

CORPUS = ROOT / "tests" / "gocorpus"


def corpus_cases() -> list[tuple[Path, Case]]:
    out = []
    for d in sorted(CORPUS.iterdir()):
        if not (d / "template.tmpl").is_file():
            continue
        meta = json.loads((d / "keys.json").read_text())
        prefix = meta.get("prefix", "").rstrip("/")
        keys: dict[str, bytes] = {}
        for k, v in meta["keys"].items():
            raw = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)
            if prefix and (k == prefix or k.startswith(prefix + "/")):
                keys[k[len(prefix) :] or "/"] = raw
            elif not prefix:
                keys[k] = raw
        source = (d / "template.tmpl").read_bytes().decode("utf-8", "surrogateescape")
        out.append((d, Case(d.name, source, keys)))
    return out


def regen_corpus(runner: DiffRunner) -> None:
    pairs = corpus_cases()
    outcomes = runner.run([c for _, c in pairs], convert=False)
    for (d, _), o in zip(pairs, outcomes, strict=True):
        if o.confd is None:
            (d / "expected.out").unlink(missing_ok=True)
            (d / "expected.err").write_text("confd refuses this template\n")
        else:
            (d / "expected.err").unlink(missing_ok=True)
            (d / "expected.out").write_bytes(o.confd)
        print(f"{d.name}: {'refused' if o.confd is None else len(o.confd)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--show", type=int, default=5, help="print this many disagreements")
    ap.add_argument("--no-convert", action="store_true")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--save", type=Path, help="write disagreeing cases as JSON here")
    ap.add_argument("--regen-corpus", action="store_true")
    args = ap.parse_args()
    if not confd_available():
        print("confd binary not found (set CONFD_BIN)", file=sys.stderr)
        return 2
    start = time.monotonic()
    with DiffRunner() as runner:
        if args.regen_corpus:
            regen_corpus(runner)
            return 0
        cases = [] if args.no_docs else docs_cases()
        cases += generate(args.seed, args.count)
        outcomes = []
        for i in range(0, len(cases), args.batch):
            outcomes += runner.run(cases[i : i + args.batch], convert=not args.no_convert)
        s = summarize(outcomes)
        bad = [o for o in outcomes if not o.direct_agrees]
        bad_conv = [o for o in outcomes if o.was_converted and not o.converted_agrees]
        for o in bad[: args.show]:
            print(
                f"--- {o.case.name} direct\n{o.case.template!r}\n keys={o.case.keys!r}\n"
                f" confd={o.confd!r}\n confpy={o.direct!r}"
            )
        for o in bad_conv[: args.show]:
            print(
                f"--- {o.case.name} converted\n{o.case.template!r}\n"
                f" confd={o.confd!r}\n converted={o.converted!r}"
            )
        if args.save:
            args.save.write_text(
                json.dumps(
                    [
                        {
                            "name": o.case.name,
                            "template": o.case.template,
                            "keys": {
                                k: v.decode("utf-8", "surrogateescape")
                                for k, v in o.case.keys.items()
                            },
                            "confd": None
                            if o.confd is None
                            else o.confd.decode("utf-8", "surrogateescape"),
                            "confpy": None
                            if o.direct is None
                            else o.direct.decode("utf-8", "surrogateescape"),
                        }
                        for o in bad + bad_conv
                    ],
                    indent=1,
                )
            )
        print(
            f"templates: {s['cases']} (seed {args.seed}, {args.count} random + "
            f"{0 if args.no_docs else len(docs_cases())} docs examples); confd refused "
            f"{s['confd_failed']}"
        )
        print(f"direct:    {s['direct_agree']}/{s['cases']} agree = {s['direct_pct']:.2f} %")
        print(
            f"converted: {s['converted_agree']}/{s['converted']} converted templates agree = "
            f"{s['converted_pct']:.2f} % ({s['converted']} of {s['cases']} converted)"
        )
        print(
            f"crashes:   {len(runner.crashes)} (confpy); confd died on {runner.confd_killed} "
            "templates, left out"
        )
        for t in runner.confd_deaths[:3]:
            print(f"  confd died on: {t[:300]!r}")
        for c in runner.crashes[:3]:
            print("  " + c[:500])
        print(f"elapsed:   {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
