"""Guarded installs: `min_bytes` refuses a collapsed render; `on_reload_failure = "rollback"`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree, mode_of

pytestmark = pytest.mark.etcd

# Fails while the installed file says "bad"; logs what it saw each time.
RELOAD = "cat {{ dest }} >> {log}; echo >> {log}; ! grep -q bad {{ dest }}"


def render(confpy: Confpy, tree: ConfTree) -> subprocess.CompletedProcess[str]:
    return confpy.run("render", "--onetime", "--confdir", str(tree.confdir))


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    [line] = [x for x in stderr.splitlines() if x.startswith("confpy: error:")]
    return line


def reloads(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line] if log.exists() else []


# -- min_bytes ---------------------------------------------------------------------------------


def test_render_shorter_than_min_bytes_fails_and_the_old_file_stays(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """An emptied key directory renders a collapsed file: exit 1, the good file is kept."""
    dest = tree.simple(
        "up",
        "{% for v in getvs('/up/*') %}server {{ v }};\n{% endfor %}",
        ["/up"],
        "min_bytes = 10\n",
    )
    store.put("/up/a", b"10.0.0.1:80")
    assert render(confpy, tree).returncode == 0
    store.delete("/up/a")
    result = render(confpy, tree)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "rendered 0 bytes, fewer than min_bytes = 10" in line and "left as it was" in line
    assert dest.read_text() == "server 10.0.0.1:80;\n"


def test_render_of_exactly_min_bytes_is_installed(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    dest = tree.simple("v", "{{ getv('/v') }}", ["/v"], "min_bytes = 4\n")
    store.put("/v", b"abcd")
    assert render(confpy, tree).returncode == 0
    assert dest.read_text() == "abcd"


def test_min_bytes_message_names_no_value(confpy: Confpy, tree: ConfTree, store: EtcdStore) -> None:
    """A short secret is refused by its length, never quoted."""
    tree.simple("k", "{{ getv('/k') }}", ["/k"], 'min_bytes = 100\nmode = "0600"\n')
    store.put("/k", b"SECRET")
    result = render(confpy, tree)
    assert result.returncode == 1 and "SECRET" not in result.stderr


def test_negative_min_bytes_is_refused(confpy: Confpy, tree: ConfTree) -> None:
    tree.simple("k", "x", ["/k"], "min_bytes = -1\n")
    result = render(confpy, tree)
    assert result.returncode == 2 and "k.toml:5: min_bytes: must be 0 or more" in result.stderr


# -- on_reload_failure ---------------------------------------------------------------------------


def app(tree: ConfTree, log: Path, policy: str = "rollback", extra: str = "") -> Path:
    return tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        f'reload_cmd = "{RELOAD.replace("{log}", str(log))}"\non_reload_failure = "{policy}"\n{extra}',
    )


def test_rollback_restores_the_previous_file_and_reloads_again(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """The service refused `bad`: `good` is back with its mode, the service reloaded it, exit 1."""
    log = tree.root / "log"
    dest = app(tree, log, extra='mode = "0640"\n')
    store.put("/app/v", b"good")
    assert render(confpy, tree).returncode == 0
    inode = os.stat(dest).st_ino
    store.put("/app/v", b"bad")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "restored the previous file and reloaded" in error_line(result.stderr)
    assert dest.read_text() == "good" and mode_of(dest) == 0o640
    assert os.stat(dest).st_ino != inode  # put back by a rename, not rewritten in place
    assert reloads(log) == ["good", "bad", "good"]
    assert sorted(p.name for p in tree.out.iterdir()) == ["app"]  # no copy left behind


def test_rollback_without_a_previous_file_removes_the_new_one(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """The previous state was "no file": the refused file is removed, then reloaded again."""
    log = tree.root / "log"
    dest = app(tree, log)
    store.put("/app/v", b"bad")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "removed the new file (there was none before)" in error_line(result.stderr)
    assert not dest.exists()


def test_reload_failing_again_after_rollback_is_reported(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Both reloads fail: the previous file is back anyway and the message says both."""
    dest = tree.simple(
        "app",
        "{{ getv('/app/v') }}",
        ["/app"],
        'reload_cmd = "exit 3"\non_reload_failure = "rollback"\n',
    )
    dest.write_text("old")
    store.put("/app/v", b"new")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "the reload after it failed too" in error_line(result.stderr)
    assert dest.read_text() == "old"


def test_keep_leaves_the_new_file_after_a_failed_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """The default: the file stays as rendered, one reload attempt, exit 1."""
    log = tree.root / "log"
    dest = app(tree, log, policy="keep")
    store.put("/app/v", b"bad")
    assert render(confpy, tree).returncode == 1
    assert dest.read_text() == "bad" and reloads(log) == ["bad"]


def test_unknown_policy_is_refused(confpy: Confpy, tree: ConfTree) -> None:
    tree.simple("k", "x", ["/k"], 'on_reload_failure = "revert"\n')
    result = render(confpy, tree)
    assert (
        result.returncode == 2
        and 'on_reload_failure: must be "keep" or "rollback"' in result.stderr
    )


def test_rolled_back_resource_fails_until_a_new_render_reloads_cleanly(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """--watch: /healthz names the resource after a rollback, and clears it once `fixed` reloads."""
    log = tree.root / "log"
    dest = app(tree, log)
    port = free_port()
    store.put("/app/v", b"good")
    proc = confpy.start(
        "render", "--watch", "--confdir", str(tree.confdir), "--health-addr", f"127.0.0.1:{port}"
    )

    def failing() -> dict[str, str] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return json.loads(r.read())["failing"]
        except urllib.error.HTTPError as e:
            return json.loads(e.read())["failing"]
        except OSError:
            return None

    try:
        wait_for(
            lambda: failing() == {} and dest.exists() and dest.read_text() == "good",
            timeout=20,
            what="in sync",
        )
        store.put("/app/v", b"bad")
        wait_for(lambda: "app" in (failing() or {}), timeout=20, what="the rollback to be reported")
        # Retries install `bad` again and roll back again: between them the file is `good`.
        wait_for(lambda: dest.read_text() == "good", timeout=20, what="the previous file")
        store.put("/app/v", b"fixed")
        wait_for(
            lambda: failing() == {} and dest.read_text() == "fixed",
            timeout=20,
            what="a clean reload",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
