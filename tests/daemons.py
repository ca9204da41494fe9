"""Shared test helpers for daemon tests: a running `render --watch`, files, /healthz."""

from __future__ import annotations

import json
import signal
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import Confpy
from tests.helpers import ConfTree


class Watcher:
    """A `confpy render --watch` process; stopped with SIGTERM at the end of the test."""

    def __init__(
        self, confpy: Confpy, tree: ConfTree, *extra: str, env: dict[str, str] | None = None
    ):
        self.proc = confpy.start(
            "render",
            "--watch",
            "--confdir",
            str(tree.confdir),
            "--log-level",
            "debug",
            *extra,
            env=env,
        )
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in list(self.stderr):
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == name:
                    out.append(event)
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self._reader.join(timeout=5)
        return code


def read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def healthz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except OSError:
        return 0, {}
