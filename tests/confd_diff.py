"""Render the same cases with the real confd and with confpy on one etcd, and compare bytes.

A case is a Go template and a key tree (absolute key -> bytes). A batch of cases becomes one
confdir with one conf.d resource per case (its own prefix `/cN` in etcd, its own dest), so
one confd process and one `confpy render --onetime` process render hundreds of cases. A
resource whose dest is missing afterwards failed; "agreement" is identical bytes, or both
failed. `confpy convert` of the same confdir, rendered again, gives the converted figures.

Used by tests/test_confd_differential.py (a fixed small seed set) and bench/confd_diff.py
(the long run by hand).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFD = Path(os.environ.get("CONFD_BIN", "/work/shared/anchors/confd"))


@dataclass
class Case:
    name: str
    template: str
    keys: dict[str, bytes] = field(default_factory=dict)
    """Keys relative to the case's prefix (each starts with `/`)."""


@dataclass
class Outcome:
    case: Case
    confd: bytes | None
    direct: bytes | None
    converted: bytes | None = None
    was_converted: bool = False

    @property
    def direct_agrees(self) -> bool:
        return self.confd == self.direct

    @property
    def converted_agrees(self) -> bool:
        return self.confd == self.converted


def confd_available() -> bool:
    return CONFD.is_file() and os.access(CONFD, os.X_OK)


def _toml_string(s: str) -> str:
    return json.dumps(s)


def _write_confdir(
    root: Path,
    cases: Sequence[Case],
    out: Path,
    prefix_base: str,
    skip: frozenset[int] = frozenset(),
) -> None:
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    for i, case in enumerate(cases):
        if i in skip:
            continue
        (root / "templates" / f"c{i}.tmpl").write_bytes(
            case.template.encode("utf-8", "surrogateescape")
        )
        (root / "conf.d" / f"c{i}.toml").write_text(
            "[template]\n"
            f'src = "c{i}.tmpl"\n'
            f"dest = {_toml_string(str(out / f'c{i}'))}\n"
            f'prefix = "{prefix_base}/c{i}"\n'
            'keys = ["/"]\n'
        )


def _limit_memory() -> None:
    """A runaway template (deep recursion) must not take the machine's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def _collect(out: Path, n: int) -> list[bytes | None]:
    results: list[bytes | None] = []
    for i in range(n):
        p = out / f"c{i}"
        results.append(p.read_bytes() if p.exists() else None)
    return results


class DiffRunner:
    """One etcd (started here or given) and a scratch directory for batches."""

    def __init__(self, endpoint: str | None = None, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="gotpl-diff-")) if workdir is None else workdir
        self.server = None
        if endpoint is None:
            from confpy.testing.etcd import EtcdServer

            self.server = EtcdServer(self.workdir / "etcd")
            self.server.start()
            endpoint = self.server.url
        self.endpoint = endpoint
        from confpy.config.settings import load_settings
        from confpy.store import EtcdStore

        self.client = EtcdStore(
            load_settings({"endpoints": endpoint, "confdir": "/nonexistent"}, {})
        )
        self.batches = 0
        self.crashes: list[str] = []
        self.confd_killed = 0
        self.unjudged: set[str] = set()
        self.confd_deaths: list[str] = []
        """Cases confd died on ("batch/cN"): no answer to compare with."""
        """confd runs that died (memory limit, timeout): their batch is not comparable."""

    def close(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DiffRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, cases: Sequence[Case], *, convert: bool = True) -> list[Outcome]:
        self.batches += 1
        base = self.workdir / f"b{self.batches}"
        prefix = f"/b{self.batches}"
        for i, case in enumerate(cases):
            for k, v in case.keys.items():
                self.client.put(f"{prefix}/c{i}{k}", v if isinstance(v, bytes) else v.encode())
        outs = {name: base / f"out-{name}" for name in ("confd", "direct", "converted")}
        for p in outs.values():
            p.mkdir(parents=True)
        confdirs = {name: base / f"confdir-{name}" for name in ("confd", "direct")}
        # confpy refuses a confdir whose templates do not parse (exit 2, nothing written),
        # where confd renders the others: leave those out of confpy's runs, as refused.
        refused = frozenset(i for i, c in enumerate(cases) if not _parses(c.template))
        _write_confdir(confdirs["confd"], cases, outs["confd"], prefix)
        _write_confdir(confdirs["direct"], cases, outs["direct"], prefix, refused)
        self._confd(confdirs["confd"], outs["confd"], len(cases))
        self._confpy(confdirs["direct"], "direct")
        confd_results = _collect(outs["confd"], len(cases))
        direct_results = _collect(outs["direct"], len(cases))
        converted_results: list[bytes | None] = [None] * len(cases)
        was_converted = [False] * len(cases)
        if convert:
            conv_src = base / "confdir-conv-src"
            _write_confdir(conv_src, cases, outs["converted"], prefix, refused)
            conv = base / "confdir-converted"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "confpy",
                    "convert",
                    "--confdir",
                    str(conv_src),
                    "--out",
                    str(conv),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=600,
                check=False,
            )
            was_converted = [(conv / "templates" / f"c{i}.j2").is_file() for i in range(len(cases))]
            # A converted template that Jinja cannot compile would make confpy refuse the
            # whole confdir: it fails alone here (counted as converted, and failing).
            for i in range(len(cases)):
                j2 = conv / "templates" / f"c{i}.j2"
                if j2.is_file() and not _jinja_compiles(j2):
                    (conv / "conf.d" / f"c{i}.toml").unlink()
            if conv.is_dir():
                self._confpy(conv, "converted")
            converted_results = _collect(outs["converted"], len(cases))
        from confpy.store import prefix_end as store_prefix_end

        start = (prefix + "/").encode()
        self.client._rpc(  # the gateway call the store itself uses; tests may use it
            "delete batch",
            "/kv/deleterange",
            {"key": _b64(start), "range_end": _b64(store_prefix_end(start))},
        )
        return [
            Outcome(c, confd_results[i], direct_results[i], converted_results[i], was_converted[i])
            for i, c in enumerate(cases)
            if f"{self.batches}/c{i}" not in self.unjudged
        ]

    def _confd(self, confdir: Path, out: Path, n: int) -> None:
        """Run confd over the confdir; if it dies (a runaway template), drop the resource it
        died on (the first, in confd's order, without output) and run the rest again."""
        todo = {f"c{i}" for i in range(n)}
        while todo:
            try:
                proc = subprocess.run(
                    [
                        str(CONFD),
                        "-onetime",
                        "-backend",
                        "etcdv3",
                        "-node",
                        self.endpoint,
                        "-confdir",
                        str(confdir),
                        "-log-level",
                        "panic",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    timeout=300,
                    check=False,
                    preexec_fn=_limit_memory,
                )
                died = proc.returncode < 0 or b"goroutine " in proc.stderr
            except subprocess.TimeoutExpired:
                died = True
            if not died:
                return
            left = sorted(name for name in todo if not (out / name).exists())
            if not left:
                return
            culprit = left[0]
            self.confd_killed += 1
            self.confd_deaths.append(
                (confdir / "templates" / f"{culprit}.tmpl").read_text(errors="replace")
            )
            self.unjudged.add(f"{self.batches}/{culprit}")
            todo = set(left[1:])
            for name in {f"c{i}" for i in range(n)} - todo:
                (confdir / "conf.d" / f"{name}.toml").unlink(missing_ok=True)

    def _confpy(self, confdir: Path, what: str) -> None:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "confpy",
                "render",
                "--onetime",
                "--endpoints",
                self.endpoint,
                "--confdir",
                str(confdir),
                "--log-level",
                "error",
                "--log-format",
                "json",
            ],
            capture_output=True,
            timeout=600,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if b"Traceback" in proc.stderr or proc.returncode not in (0, 1, 2, 3, 4, 5, 6):
            self.crashes.append(
                f"{what} batch {self.batches}: rc={proc.returncode} "
                + proc.stderr.decode(errors="replace")[-2000:]
            )


def _parses(source: str) -> bool:
    from confpy.errors import ConfpyError
    from confpy.gotemplate.engine import GoTemplate

    try:
        GoTemplate.compile(source, "/t/x.tmpl")
    except ConfpyError:
        return False
    return True


def _jinja_compiles(path: Path) -> bool:
    from confpy.render.jinja_env import make_environment

    try:
        make_environment(path.parent).get_template(path.name)
    except Exception:
        return False
    return True


def summarize(outcomes: Iterable[Outcome]) -> dict[str, float | int]:
    outcomes = list(outcomes)
    n = len(outcomes)
    direct = sum(o.direct_agrees for o in outcomes)
    conv = [o for o in outcomes if o.was_converted]
    conv_ok = sum(o.converted_agrees for o in conv)
    return {
        "cases": n,
        "direct_agree": direct,
        "direct_pct": 100.0 * direct / n if n else 100.0,
        "converted": len(conv),
        "converted_agree": conv_ok,
        "converted_pct": 100.0 * conv_ok / len(conv) if conv else 100.0,
        "confd_failed": sum(o.confd is None for o in outcomes),
    }


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def confd_env() -> dict[str, str]:
    """This environment without confpy's or confd's own variables, for either tool."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_"))}
