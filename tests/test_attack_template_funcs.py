"""The fork's template functions with hostile inputs: a render ends, in bounded time.

A render that never ends stops a daemon's every later update (and `-onetime` in a
container's start). What a template names (`include`) or what a value holds (the text a
regex function scans) must never make it hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from confpy.errors import ConfpyError
from confpy.gotemplate.engine import GoTemplate
from tests.conftest import Confpy


def render(source: str, base: Path, view: dict[str, str] | None = None) -> str:
    return GoTemplate.compile(source, str(base / "t.tmpl")).render(view or {"/a": "1"}).decode()


def test_include_of_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """`include "pipe"` of a FIFO in the templates directory blocked in open() for ever
    (nobody writes to it); a file that is not a regular file is one error line."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(render('{{ include "pipe" }}', tmp_path))
        except ConfpyError as e:
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # release the blocked open() before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
    assert outcome and isinstance(outcome[0], ConfpyError), outcome
    assert "pipe" in str(outcome[0]) and "\n" not in str(outcome[0])


PROGRAM = """
import sys
from confpy.errors import ConfpyError
from confpy.gotemplate.engine import GoTemplate
from tests.conftest import Confpy
pattern, text = sys.argv[1], sys.argv[2] * int(sys.argv[3])
source = '{{ regexMatch (getv "/p") (getv "/s") }}'
try:
    GoTemplate.compile(source, "/nonexistent/t.tmpl").render({"/p": pattern, "/s": text})
except ConfpyError as e:
    print(e)
"""


@pytest.mark.parametrize(
    ("pattern", "unit", "count"),
    [
        ("(a|aa)+c", "a", 60),
        ("(a+){1,5}c", "a", 3000),
        (".*.*.*.*=", "x", 5000),
    ],
)
def test_a_regex_function_ends_on_a_hostile_value(pattern: str, unit: str, count: int) -> None:
    """Go's regexp is linear in the text whatever the pattern; a render with regexMatch of
    a few thousand characters ends within 5 seconds (confpy's engine is RE2, as Go's)."""
    try:
        subprocess.run(
            [sys.executable, "-c", PROGRAM, pattern, unit, str(count)], timeout=5, check=True
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"regexMatch {pattern!r} on {count} characters still running after 5 s")


def fifo_confdir(root: Path, src: str, template: str) -> Path:
    """A confdir whose resource renders `src` from `--data`, with templates/pipe a FIFO."""
    (root / "conf.d").mkdir()
    (root / "templates").mkdir()
    os.mkfifo(root / "templates" / "pipe")
    (root / "templates" / src).write_text(template)
    (root / "conf.d" / "r.toml").write_text(
        f'[template]\nsrc = "{src}"\ndest = "{root}/out"\nkeys = ["/v"]\n'
    )
    (root / "data.json").write_text('{"/v/name": "pipe"}')
    return root


def test_a_jinja_include_of_a_fifo_is_one_error_not_a_hang(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """`{% include getv("/v/name") %}` naming a FIFO: exit non-zero with one line naming
    it (open() blocked until a writer came, and the whole run with it)."""
    root = fifo_confdir(tmp_path, "r.j2", '{% include getv("/v/name") %}')
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", str(root), "--data", str(root / "data.json"),
        timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert "not a regular file" in result.stderr
    assert not (root / "out").exists()


def test_indent_refuses_a_huge_width_before_building_the_padding() -> None:
    """`indent 200000000 "x"` built a 200 MB padding before its size check refused it
    (10**10 is 10 GB written before the refusal; nindent is indent after a newline)."""
    import tracemalloc

    from confpy.functions import fork_strings as forkstrings

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="larger than"):
            forkstrings.indent(200_000_000, "x\ny")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
