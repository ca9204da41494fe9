"""Render the published confd resources of tests/confd_corpus with confd and with confpy.

A case is one directory `SLUG/NAME/`: `conf.d/NAME.toml` and `templates/SRC` exactly as
published, `SOURCE` (repository, commit, paths, license if stated) and `data.json`, written
for the corpus: `{"why": ..., "keys": {KEY: VALUE}, "env": {NAME: VALUE}}`, the keys as the
published setup would have them in etcd (its own `prefix` included).

How a case is rendered, identically for both tools:
- its keys go into etcd under a fresh root, `/corpus/cN`;
- a copy of the resource file is rewritten line by line: `prefix` becomes `/corpus/cN` joined
  with the resource's own prefix, `dest` a file in a scratch directory, `src` the template's
  copy under `templates/cN/`; the `check_cmd` and `reload_cmd` lines are dropped (they run
  haproxy, nginx, service... which this machine lacks), and so are `owner` and `group`
  (confd master has no such fields and ignores them; confpy applies them, as
  tests/test_resource_confd.py shows). Everything else, comments, unknown fields and
  wrong values included, stays as published. A file that is not TOML is copied unchanged.
- confd runs once per case: `confd -onetime -backend etcdv3 -node URL -confdir DIR`;
  confpy the same way (`confpy confd -onetime ...`, `confpy_argv`) once over every case
  it loads, and once alone for each it refuses.
A case agrees when both wrote the same bytes with the same mode, or neither wrote anything.
`confpy check` runs on each published directory as it is: it passes, or confd refused that
resource too before rendering it (the file at load, or a missing or unparsable template).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
ROOT = CORPUS.parent.parent
CONFD = Path(os.environ.get("CONFD_BIN", "/work/shared/anchors/confd"))

# What confd says when it refuses a resource before rendering it (resource.go, processor.go).
CONFD_STATIC_REFUSALS = (
    "Cannot process template resource",
    "empty src template",
    "Missing template",
    "Unable to process template",
)


@dataclass(frozen=True)
class CorpusCase:
    name: str
    """`SLUG/NAME`, the case's directory under tests/confd_corpus."""
    root: Path
    resource: Path
    keys: dict[str, str]
    env: dict[str, str]


@dataclass(frozen=True)
class Rendered:
    content: bytes
    mode: int


@dataclass
class CaseResult:
    case: CorpusCase
    confd: Rendered | None = None
    confpy: Rendered | None = None
    converted: Rendered | None = None
    """After `confpy convert` (when the run asked for it), rendered by confpy."""
    was_converted: bool = False
    """Whether convert rewrote this case's template as Jinja2 (else it stayed Go)."""
    confd_said: str = ""
    check_rc: int = -1
    check_said: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.confd == self.confpy

    @property
    def confd_refused_statically(self) -> bool:
        return any(m in self.confd_said for m in CONFD_STATIC_REFUSALS)

    @property
    def check_agrees(self) -> bool:
        return (self.check_rc == 0) != self.confd_refused_statically


def confd_available() -> bool:
    return CONFD.is_file() and os.access(CONFD, os.X_OK)


def load_cases() -> list[CorpusCase]:
    cases = []
    for data in sorted(CORPUS.glob("*/*/data.json")):
        root = data.parent
        meta = json.loads(data.read_text())
        (resource,) = sorted((root / "conf.d").iterdir())
        cases.append(
            CorpusCase(
                name=f"{root.parent.name}/{root.name}",
                root=root,
                resource=resource,
                keys=meta.get("keys", {}),
                env=meta.get("env", {}),
            )
        )
    return cases


def confpy_argv(node: str, confdir: Path) -> list[str]:
    """confpy with confd's own command line, as a Dockerfile would run it."""
    return [
        sys.executable,
        "-m",
        "confpy",
        "confd",
        "-onetime",
        "-backend",
        "etcdv3",
        "-node",
        node,
        "-confdir",
        str(confdir),
        "-log-level",
        "error",
    ]


_REWRITTEN = re.compile(r"^\s*(dest|prefix|src|check_cmd|reload_cmd|owner|group)\s*=")
_TEMPLATE_TABLE = re.compile(r"^\s*\[\s*template\s*\]")


def rewrite_resource(text: str, *, root: str, dest: Path, src_dir: str) -> str:
    """The published resource file with prefix, dest and src moved into the scratch space
    and its commands, owner and group removed (see the module docstring); unchanged when it
    is not TOML or one of those fields is not a string (both tools refuse it at load)."""
    try:
        table = tomllib.loads(text).get("template")
    except tomllib.TOMLDecodeError:
        return text
    if not isinstance(table, dict) or not all(
        isinstance(table.get(f, ""), str) for f in ("dest", "prefix", "src")
    ):
        return text
    own_prefix = table.get("prefix", "").strip("/")
    added = [f"prefix = {json.dumps(root + ('/' + own_prefix if own_prefix else ''))}"]
    if "dest" in table:
        added.append(f"dest = {json.dumps(str(dest))}")
    if "src" in table:
        added.append(f"src = {json.dumps(src_dir + '/' + table['src'])}")
    out = []
    for line in text.splitlines():
        if _REWRITTEN.match(line):
            continue
        out.append(line)
        if _TEMPLATE_TABLE.match(line):
            out.extend(added)
    rewritten = "\n".join(out) + "\n"
    kept = {k: v for k, v in table.items() if not _REWRITTEN.match(f"{k}=")}
    new_table = tomllib.loads(rewritten)["template"]
    assert {k: v for k, v in new_table.items() if not _REWRITTEN.match(f"{k}=")} == kept, text
    return rewritten


def _environment(cases: Sequence[CorpusCase]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "CONFD_", "ETCDCTL_"))
    }
    given: dict[str, str] = {}
    for case in cases:
        for k, v in case.env.items():
            assert given.setdefault(k, v) == v, f"{case.name}: {k} differs from another case's"
    env.update(given)
    env["PYTHONPATH"] = str(ROOT)
    return env


class CorpusRunner:
    """Renders every case with both tools against one etcd at `node`, in `workdir`."""

    def __init__(self, node: str, workdir: Path, put: object) -> None:
        self.node, self.workdir = node, workdir
        self._put = put  # callable(key: str, value: bytes)
        self.crashes: list[str] = []

    def run(self, cases: Sequence[CorpusCase], *, convert: bool = False) -> list[CaseResult]:
        env = _environment(cases)
        results = [CaseResult(c) for c in cases]
        for i, case in enumerate(cases):
            for key, value in case.keys.items():
                self._put(f"/corpus/c{i}/{key.lstrip('/')}", value.encode())  # type: ignore[operator]
        for i, result in enumerate(results):
            confdir = self._confdir("confd", i, result.case, self.workdir / "confd" / f"c{i}")
            proc = subprocess.run(
                [str(CONFD), "-onetime", "-backend", "etcdv3", "-node", self.node,
                 "-confdir", str(confdir), "-log-level", "error"],
                capture_output=True, timeout=60, env=env, cwd=self.workdir, check=False,
            )  # fmt: skip
            result.confd_said = (proc.stdout + proc.stderr).decode(errors="replace")
            result.confd = _collect(self.workdir / "out-confd" / f"c{i}")
        loaded = self._run_confpy(results, env)
        self._check(results, env)
        if convert:
            self._run_converted(results, loaded, env)
        return results

    def _run_converted(
        self, results: list[CaseResult], loaded: list[int], env: dict[str, str]
    ) -> None:
        """`confpy convert` of the cases confpy loads, rendered again by `confpy confd`."""
        source, out = self.workdir / "convert-src", self.workdir / "converted"
        for i in loaded:
            self._confdir("converted", i, results[i].case, source)
        subprocess.run(
            [sys.executable, "-m", "confpy", "convert", "--confdir", str(source), "--out", str(out)],
            capture_output=True, timeout=300, env=env, check=False,
        )  # fmt: skip
        if not (out / "conf.d").is_dir():
            self.crashes.append("convert wrote no confdir")
            return
        self._confpy(out, env)
        for i in loaded:
            results[i].converted = _collect(self.workdir / "out-converted" / f"c{i}")
            results[i].was_converted = any((out / "templates" / f"c{i}").rglob("*.j2"))

    def _confdir(self, tool: str, i: int, case: CorpusCase, confdir: Path) -> Path:
        out = self.workdir / f"out-{tool}" / f"c{i}"
        out.mkdir(parents=True, exist_ok=True)
        (confdir / "conf.d").mkdir(parents=True, exist_ok=True)
        templates = confdir / "templates" / f"c{i}"
        if (case.root / "templates").is_dir():  # absent where the published one is missing
            shutil.copytree(case.root / "templates", templates)
        else:
            templates.mkdir(parents=True)
        text = rewrite_resource(
            case.resource.read_text(), root=f"/corpus/c{i}", dest=out / "out", src_dir=f"c{i}"
        )
        (confdir / "conf.d" / f"c{i}-{case.resource.name}").write_text(text)
        return confdir

    def _run_confpy(self, results: list[CaseResult], env: dict[str, str]) -> list[int]:
        """Render with confpy; the indexes of the cases it loads (rendered in one run)."""
        from confpy.config.resource import load_resource
        from confpy.errors import ConfpyError

        batch = self.workdir / "confpy"
        alone: list[int] = []
        for i, result in enumerate(results):
            self._confdir("confpy", i, result.case, batch)
            path = batch / "conf.d" / f"c{i}-{result.case.resource.name}"
            try:
                load_resource(path, batch / "templates")
            except ConfpyError:
                path.unlink()
                alone.append(i)
        runs = [batch] if len(alone) < len(results) else []
        for i in alone:
            confdir = self.workdir / "confpy-alone" / f"c{i}"
            self._confdir("confpy", i, results[i].case, confdir)
            runs.append(confdir)
        for confdir in runs:
            self._confpy(confdir, env)
        for i, result in enumerate(results):
            result.confpy = _collect(self.workdir / "out-confpy" / f"c{i}")
        return [i for i in range(len(results)) if i not in alone]

    def _confpy(self, confdir: Path, env: dict[str, str]) -> None:
        """`confpy confd -onetime ...` over one confdir; a traceback is a crash to report."""
        proc = subprocess.run(
            confpy_argv(self.node, confdir), capture_output=True, timeout=120, env=env,
            cwd=self.workdir, check=False,
        )  # fmt: skip
        if b"Traceback" in proc.stderr:
            self.crashes.append(f"{confdir}: {proc.stderr.decode(errors='replace')[-2000:]}")

    def _check(self, results: list[CaseResult], env: dict[str, str]) -> None:
        """`confpy check` on each published directory, all in one process."""
        dirs = [str(r.case.root) for r in results]
        proc = subprocess.run(
            [sys.executable, "-c", _CHECK_DRIVER, *dirs],
            capture_output=True, timeout=120, env=env, cwd=self.workdir, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            self.crashes.append("check driver: " + proc.stderr.decode(errors="replace")[-2000:])
            return
        for result, answer in zip(results, json.loads(proc.stdout), strict=True):
            result.check_rc, result.check_said = answer["rc"], answer["said"]


_CHECK_DRIVER = """
import contextlib, io, json, sys
from confpy.cli import main
answers = []
for confdir in sys.argv[1:]:
    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        rc = main(["check", "--confdir", confdir])
    answers.append({"rc": rc, "said": said.getvalue()})
print(json.dumps(answers))
"""


def _collect(out: Path) -> Rendered | None:
    path = out / "out"
    if not path.is_file():
        return None
    return Rendered(path.read_bytes(), path.stat().st_mode & 0o7777)


def table(results: Sequence[CaseResult]) -> str:
    """One line per case: what confd did, what confpy did, whether they agree, and check."""

    def what(r: Rendered | None) -> str:
        return "error" if r is None else f"{len(r.content)}B {r.mode:o}"

    def verdict(ours: Rendered | None, r: CaseResult) -> str:
        same = ours == r.confd
        return "identical" if same and r.confd else "both-err" if same else "DIFFER"

    lines = [f"{'case':56} {'confd':>10} {'confpy':>10}  {'render':9} {'convert':13} check"]
    for r in results:
        check = "ok" if r.check_rc == 0 else "refused"
        check += "" if r.check_agrees else " (DIFFERS from confd)"
        conv = "(kept Go)" if not r.was_converted else verdict(r.converted, r)
        lines.append(
            f"{r.case.name:56} {what(r.confd):>10} {what(r.confpy):>10}  "
            f"{verdict(r.confpy, r):9} {conv:13} {check}"
        )
    agree = sum(r.agrees for r in results)
    checks = sum(r.check_agrees for r in results)
    repos = len({r.case.name.split("/")[0] for r in results})
    converted = [r for r in results if r.was_converted]
    lines.append(
        f"{len(results)} cases from {repos} repositories: render agrees on {agree}, "
        f"check agrees on {checks}; convert rewrote {len(converted)}, of which "
        f"{sum(r.converted == r.confd for r in converted)} agree"
    )
    return "\n".join(lines)
