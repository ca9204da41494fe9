"""docs/quickstart.md runs as written: its commands, in order, print what the page shows.

How the page is read (also said in a comment at the top of the page):

* Every ```console block is run; every other block (```sh, ```toml, ```ini, ...) is only
  for reading. A line starting with `$ ` is a command; a line ending in `\\` continues it,
  and a here-document (`<<'EOF'`) takes the lines up to its terminator. The lines after a
  command, up to the next `$ ` or the end of the block, are its output.
* All commands run in one bash, in page order, from a directory whose `.venv` is the
  virtual environment running the tests (as `make demo` creates it in a checkout). Each
  command must exit 0, and print exactly the output shown, stdout and stderr together.
* What differs from a person's run: `/tmp/quickstart` becomes a temporary directory, and
  etcd's ports 2379 and 2380 become free ports, so runs never collide. The shell has no
  terminal, so CONFPY_LOG_FORMAT=console asks for the format a terminal gets by default.
  ISO timestamps, `took = ...` durations and `owner UID:GID` (which depend on who runs it)
  are compared as placeholders.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGE = ROOT / "docs" / "quickstart.md"
PLACEHOLDERS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"took = [\d.]+[mµn]?s"), "took = <duration>"),
    (re.compile(r"owner \d+:\d+"), "owner <uid>:<gid>"),
]


@dataclass
class Command:
    text: str
    output: list[str]
    line: int


def commands(page: str) -> list[Command]:
    """The commands of every ```console block, with the output the page shows for each."""
    found: list[Command] = []
    lines = page.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            assert line.startswith("$ "), f"quickstart.md:{i + 1}: output before any command"
            start, text = i + 1, [line[2:]]
            i += 1
            while text[-1].endswith("\\"):
                text.append(lines[i])
                i += 1
            heredoc = re.search(r"<<-?\s*'?(\w+)'?", "\n".join(text))
            if heredoc:
                while lines[i] != heredoc[1]:
                    text.append(lines[i])
                    i += 1
                text.append(lines[i])
                i += 1
            output: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ ") and lines[i].strip() != "```":
                output.append(lines[i])
                i += 1
            found.append(Command("\n".join(text), output, start))
        i += 1
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def normalize(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, placeholder in PLACEHOLDERS:
            line = pattern.sub(placeholder, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def run_page(tmp_path: Path) -> tuple[list[Command], dict[int, tuple[int, list[str]]]]:
    """Run every command of the page in one bash; {index: (exit status, output lines)}."""
    page = PAGE.read_text()
    shown = commands(page)
    workdir, scratch = tmp_path / "checkout", tmp_path / "quickstart"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(Path(sys.prefix))
    swaps = {
        "/tmp/quickstart": str(scratch),
        "127.0.0.1:2379": f"127.0.0.1:{free_port()}",
        "127.0.0.1:2380": f"127.0.0.1:{free_port()}",
    }
    script = []
    for index, command in enumerate(shown):
        text = command.text
        for old, new in swaps.items():
            text = text.replace(old, new)
        script += [f"printf '\\n@@begin {index}\\n'", text, f"printf '\\n@@end {index} %d\\n' $?"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFPY_", "ETCDCTL_"))}
    env["CONFPY_LOG_FORMAT"] = "console"
    shell = subprocess.Popen(
        ["bash", "-c", "exec 2>&1\n" + "\n".join(script) + "\n"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = shell.communicate(timeout=120)
    finally:
        # Whatever the page left running (it stops its own etcd and watcher).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    for old, new in swaps.items():
        out = out.replace(new, old)
    results: dict[int, tuple[int, list[str]]] = {}
    for match in re.finditer(r"@@begin (\d+)\n(.*?)\n@@end \1 (\d+)\n", out, re.DOTALL):
        results[int(match[1])] = (int(match[3]), match[2].splitlines())
    return shown, results


@pytest.fixture(scope="module")
def page_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[Command], dict[int, tuple[int, list[str]]]]:
    return run_page(tmp_path_factory.mktemp("quickstart"))


def test_quickstart_has_commands_and_outputs_to_compare() -> None:
    """The page does run things and show what they print, so the comparison cannot pass vacuously."""
    shown = commands(PAGE.read_text())
    assert len(shown) >= 15
    assert sum(1 for c in shown if c.output) >= 8


def test_every_quickstart_command_succeeds(
    page_run: tuple[list[Command], dict[int, tuple[int, list[str]]]],
) -> None:
    """Each command on the page, run in order as a newcomer would, exits 0."""
    shown, results = page_run
    for index, command in enumerate(shown):
        assert index in results, f"quickstart.md:{command.line}: `{command.text}` never finished"
        status, output = results[index]
        assert status == 0, (
            f"quickstart.md:{command.line}: `{command.text}` exited {status}:\n" + "\n".join(output)
        )


def test_every_quickstart_output_is_what_the_page_shows(
    page_run: tuple[list[Command], dict[int, tuple[int, list[str]]]],
) -> None:
    """What each command prints is what the page shows below it."""
    shown, results = page_run
    for index, command in enumerate(shown):
        _, output = results.get(index, (None, []))
        assert normalize(output) == normalize(command.output), (
            f"quickstart.md:{command.line}: `{command.text}`"
        )
