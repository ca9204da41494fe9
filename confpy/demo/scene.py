"""The demo's stage: where the scenario's files are, the processes it runs, how it narrates.

Nothing here knows the story; `confpy.demo.story` tells it with these pieces.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from confpy.errors import ConfpyError

if TYPE_CHECKING:
    from confpy.store import EtcdStore


def scenario_path(name: str) -> Path:
    """The scenario's `templates` or `units` directory.

    In an installed wheel they ship inside the package (`confpy/scenario/`); in a checkout
    (an editable install) they are at the top of the repository.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "scenario" / name, package.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfpyError(
        f"scenario configuration not found in {package / 'scenario'}: reinstall confpy[demo]"
    )


# -- narration -------------------------------------------------------------------------------


def say(text: str) -> None:
    print(textwrap.fill(text, width=88), flush=True)


def heading(number: int, title: str) -> None:
    print(f"\n== {number}. {title}", flush=True)


def show(title: str, text: str) -> None:
    print(f"   --- {title}")
    for line in text.rstrip("\n").splitlines():
        print(f"   | {line}")
    sys.stdout.flush()


def event_summary(line: str) -> str:
    """`EVENT MISSING` from one JSON log line, or the line itself."""
    try:
        event = json.loads(line)
    except ValueError:
        return line
    return f"{event.get('event')} {event.get('missing')}"


# -- files and processes ---------------------------------------------------------------------


def prepare_confdir(
    role: Path, confdir: Path, out: Path, reload_cmd: str | None = None
) -> dict[str, Path]:
    """Copy one role's CONFDIR, pointing every `dest` into `out` instead of /etc and /opt.

    Commands whose program is not installed here (logstash, logstash-forwarder) are
    dropped; with `reload_cmd`, each resource gets that command instead, so the demo can
    show when reloads happen. Returns resource name -> destination.
    """
    shutil.copytree(role, confdir)
    dests: dict[str, Path] = {}
    for toml in sorted((confdir / "conf.d").glob("*.toml")):
        lines = []
        for line in toml.read_text().splitlines():
            m = re.match(r'^(\s*dest\s*=\s*")/(.*)"', line)
            if m:
                dest = out / m.group(2)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dests[toml.stem] = dest
                line = f'dest = "{dest}"'
            m = re.match(r"^\s*(check_cmd|reload_cmd|restart_cmd)\s*=\s*(.*)$", line)
            if m and not _installed(m.group(2)):
                continue
            if re.match(r"^\s*(reload_signal|pidfile)\s*=", line):
                continue
            lines.append(line)
        if reload_cmd:
            lines.append(f"reload_cmd = {reload_cmd!r}".replace("'", '"'))
        toml.write_text("\n".join(lines) + "\n")
    return dests


def _installed(command_value: str) -> bool:
    first = re.findall(r'"([^"]+)"', command_value)
    program = first[0].split()[0] if first else ""
    return bool(program) and shutil.which(program) is not None


class Scene:
    """The processes and files of one demo run, cleaned up at the end."""

    def __init__(self, work: Path, etcd_url: str) -> None:
        self.work = work
        self.etcd_url = etcd_url
        self.env = dict(
            os.environ,
            CONFPY_ENDPOINTS=etcd_url,
            CONFPY_LOG_FORMAT="json",
            CONFPY_LOG_LEVEL="info",
        )
        self.procs: list[subprocess.Popen[bytes]] = []

    def confpy(self, *args: str, log: str | None = None) -> subprocess.Popen[bytes]:
        out = open(self.work / (log or "confpy.log"), "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "confpy", *args], env=self.env, stdout=out, stderr=out
        )
        out.close()
        self.procs.append(proc)
        return proc

    def register(self, key: str, value: str, *service: str, log: str) -> subprocess.Popen[bytes]:
        """`confpy register KEY VALUE --ttl 10 -- <a stand-in service>`, as the units do."""
        return self.confpy(
            "register", key, value, "--ttl", "10", "--",
            sys.executable, "-m", "confpy.demo.services", *service, log=log,
        )  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "confpy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def put(self, key: str, value: str) -> None:
        with self._store() as store:
            store.put(key, value.encode())

    def get(self, key: str) -> bytes | None:
        with self._store() as store:
            return store.get(key)[0]

    @contextlib.contextmanager
    def _store(self) -> Iterator[EtcdStore]:
        """A short-lived connection for the demo's own reads and writes."""
        from confpy.config.settings import load_settings
        from confpy.store import EtcdStore

        settings = load_settings({"endpoints": self.etcd_url, "confdir": "/nonexistent"}, {})
        store = EtcdStore(settings)
        try:
            yield store
        finally:
            store.close()


_T = TypeVar("_T")


def wait_until(check: Callable[[], _T], timeout: float, what: str) -> _T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise ConfpyError(f"demo: timed out after {timeout:g}s waiting for {what}")


def lines_of(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def healthz(addr: str) -> str | None:
    """The daemon's /healthz body when it answers 200 (connected and in sync)."""
    try:
        with urllib.request.urlopen(f"http://{addr}/healthz", timeout=1) as r:
            return r.read().decode() if r.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None
