"""etcd with authentication: login over plain http, refused logins and roles, token expiry."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.store.snapshot import WatchBatch
from confpy.testing.etcd import EtcdServer, find_etcd
from tests.conftest import Confpy, wait_for
from tests.etcd_admin import current_revision
from tests.helpers import ConfTree
from tests.servers import ROOT_PASSWORD

pytestmark = pytest.mark.etcd


def as_user(confpy: Confpy, server: EtcdServer, user: str, password: str) -> dict[str, str]:
    return confpy.env(CONFPY_ENDPOINTS=server.url, CONFPY_USERNAME=user, CONFPY_PASSWORD=password)


def test_login_over_plain_http_renders(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """Username and password work on an http:// endpoint (the token travels as metadata)."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        env=as_user(confpy_offline, auth_etcd, "reader", "reader-pw"),
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "1"


def test_wrong_password_exits_2_with_a_clear_message(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """A refused login is a configuration error, not an outage; the password is not echoed."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        env=as_user(confpy_offline, auth_etcd, "reader", "wrong-pw"),
    )
    assert result.returncode == 2
    assert "etcd refused the login" in result.stderr
    assert "wrong-pw" not in result.stderr


def test_user_without_read_permission_exits_2_naming_roles(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """A user whose roles do not cover the keys gets a message about roles, exit 2."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        env=as_user(confpy_offline, auth_etcd, "nobody", "nobody-pw"),
    )
    assert result.returncode == 2
    assert "check the etcd user's roles" in result.stderr


def test_daemon_logs_in_again_after_its_token_expires(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """etcd drops an unused simple token after 1 s here; polling every 2 s, each read meets an
    expired token, logs in again and repeats the read: no error, no missed change."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    proc = confpy_offline.start(
        "render",
        "--interval",
        "2s",
        "--confdir",
        str(tree.confdir),
        env=as_user(confpy_offline, auth_etcd, "root", ROOT_PASSWORD),
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(lambda: dest.exists() and dest.read_text() in ("1", "2"), what="first render")
        wait_for(
            lambda: any("logging in again" in line for line in lines),
            timeout=15,
            what="the daemon to meet an expired token",
        )
        subprocess.run(
            [
                str(find_etcd("etcdctl")),
                "--endpoints",
                auth_etcd.url,
                "--user",
                f"root:{ROOT_PASSWORD}",
                "put",
                "/app/v",
                "2",
            ],
            check=True,
            capture_output=True,
        )
        wait_for(
            lambda: dest.read_text() == "2", timeout=15, what="the change after logging in again"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert not any('"level": "error"' in line or "etcd unavailable" in line for line in lines)


def etcdctl_as_root(server: EtcdServer, *args: str) -> None:
    subprocess.run(
        [
            str(find_etcd("etcdctl")),
            "--endpoints",
            server.url,
            "--user",
            f"root:{ROOT_PASSWORD}",
            *args,
        ],
        check=True,
        capture_output=True,
    )


class Daemon:
    """`confpy render --watch` as user `split`, its stderr collected line by line."""

    def __init__(self, confpy: Confpy, server: EtcdServer, tree: ConfTree) -> None:
        self.proc = confpy.start(
            "render",
            "--watch",
            "--confdir",
            str(tree.confdir),
            env=as_user(confpy, server, "split", "split-pw"),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(self.proc.stderr.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        self._reader.start()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


def test_watch_follows_changes_with_a_role_covering_only_the_watched_prefixes(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """Refused the span watch, confpy watches each range and still follows every change."""
    tree = ConfTree(tmp_path)
    es = tree.simple("es", "{{ getv('/elasticsearch/host') }}", ["/elasticsearch/host"])
    ls = tree.simple("ls", "{{ getv('/logstash/host') }}", ["/logstash/host"])
    daemon = Daemon(confpy_offline, auth_etcd, tree)
    try:
        wait_for(lambda: es.exists() and ls.exists(), what="first render")
        etcdctl_as_root(auth_etcd, "put", "/elasticsearch/host", "es-2")
        wait_for(lambda: es.read_text() == "es-2", what="the change under /elasticsearch/")
        etcdctl_as_root(auth_etcd, "put", "/logstash/host", "ls-2")
        wait_for(lambda: ls.read_text() == "ls-2", what="the change under /logstash/")
    finally:
        assert daemon.stop() == 0
    assert any("watching each range separately" in line for line in daemon.lines)
    assert not any("re-rendering everything" in line for line in daemon.lines), (
        "followed by resyncs, not by the watch"
    )


def test_one_transaction_across_separately_watched_ranges_is_one_change_set(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """Both files of a transaction are installed before their shared reload runs once."""
    tree = ConfTree(tmp_path)
    log = tmp_path / "reloads.log"
    script = f"cat {tree.out}/es {tree.out}/ls >> {log}; echo -- >> {log}"
    reload = f"reload_cmd = {json.dumps(['sh', '-c', script])}"
    tree.simple("es", "{{ getv('/elasticsearch/host') }}\n", ["/elasticsearch/host"], extra=reload)
    tree.simple("ls", "{{ getv('/logstash/host') }}\n", ["/logstash/host"], extra=reload)
    etcdctl_as_root(auth_etcd, "put", "/elasticsearch/host", "es-a")
    etcdctl_as_root(auth_etcd, "put", "/logstash/host", "ls-a")
    daemon = Daemon(confpy_offline, auth_etcd, tree)

    def reloads() -> list[str]:
        text = log.read_text() if log.exists() else ""
        return [r.strip() for r in text.split("--") if r.strip()]

    try:
        wait_for(
            lambda: any("watching each range separately" in line for line in daemon.lines),
            what="the per-range watch",
        )
        wait_for(reloads, what="the first render's reload")
        first = len(reloads())
        root = EtcdStore(
            load_settings(
                {"endpoints": auth_etcd.url, "username": "root"}, {"CONFPY_PASSWORD": ROOT_PASSWORD}
            )
        )
        try:
            root.put_atomic({"/elasticsearch/host": b"es-b", "/logstash/host": b"ls-b"}, expect={})
        finally:
            root.close()
        wait_for(lambda: len(reloads()) > first, what="the reload after the transaction")
    finally:
        assert daemon.stop() == 0, daemon.lines
    assert reloads()[first:] == ["es-b\nls-b"], daemon.lines


def test_broken_per_range_watch_rereads_everything(
    confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path
) -> None:
    """Ranges watched separately share no resume revision: after a break, a full snapshot."""
    tree = ConfTree(tmp_path)
    es = tree.simple("es", "{{ getv('/elasticsearch/host') }}", ["/elasticsearch/host"])
    tree.simple("ls", "{{ getv('/logstash/host') }}", ["/logstash/host"])
    daemon = Daemon(confpy_offline, auth_etcd, tree)
    try:
        wait_for(
            lambda: any("watching each range separately" in line for line in daemon.lines),
            what="the per-range watch",
        )
        auth_etcd.kill()
        auth_etcd.start()
        etcdctl_as_root(auth_etcd, "put", "/elasticsearch/host", "after-restart")
        wait_for(
            lambda: es.read_text() == "after-restart",
            timeout=30,
            what="the change after the restart",
        )
        wait_for(
            lambda: any("watch broken, reading a full snapshot" in line for line in daemon.lines),
            what="the full snapshot after the break",
        )
    finally:
        assert daemon.stop() == 0


def test_watch_outlives_its_token_and_keeps_reporting_progress(auth_etcd: EtcdServer) -> None:
    """The watch's silent-stream check meets an expired 1 s token: it logs in again, opens
    the new stream with the new token, and changes keep arriving."""
    store = EtcdStore(
        load_settings(
            {
                "endpoints": auth_etcd.url,
                "confdir": "/nonexistent",
                "username": "reader",
                "password": "reader-pw",
            },
            {},
        )
    )
    store.progress_interval = 1.5  # longer than the token's 1 s life
    stop = threading.Event()
    batches: list[object] = []
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            batches.extend(store.watch(["/app"], current_revision(store) + 1, stop))
        except BaseException as e:  # handed to the test
            errors.append(e)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(batches) >= 3 or errors, timeout=15, what="two progress reports")
        assert not errors
        etcdctl_as_root(auth_etcd, "put", "/app/v", "after-expiry")
        wait_for(
            lambda: any(getattr(b, "events", ()) for b in batches) or errors,
            timeout=10,
            what="the change",
        )
        assert not errors
    finally:
        stop.set()
        thread.join(timeout=10)
        store.close()
        etcdctl_as_root(auth_etcd, "put", "/app/v", "1")


def test_per_range_watch_reports_progress_and_keeps_a_transaction_in_one_batch(
    auth_etcd: EtcdServer,
) -> None:
    """With a role covering only the watched prefixes, the store watches each range; its
    silence check replaces the stream (progress keeps coming), and a transaction across
    both ranges still arrives as one batch."""
    store = EtcdStore(
        load_settings(
            {
                "endpoints": auth_etcd.url,
                "confdir": "/nonexistent",
                "username": "split",
                "password": "split-pw",
            },
            {},
        )
    )
    store.progress_interval = 0.5
    stop = threading.Event()
    batches: list[WatchBatch] = []
    errors: list[BaseException] = []
    patterns = ["/elasticsearch/host", "/logstash/host"]
    start = current_revision(store) + 1

    def follow() -> None:
        try:
            batches.extend(store.watch(patterns, start, stop))
        except BaseException as e:  # handed to the test
            errors.append(e)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: len(batches) >= 3 or errors, timeout=15, what="progress on the split watch"
        )
        assert not errors
        assert store.split_watch
        root = EtcdStore(
            load_settings(
                {
                    "endpoints": auth_etcd.url,
                    "confdir": "/nonexistent",
                    "username": "root",
                    "password": ROOT_PASSWORD,
                },
                {},
            )
        )
        root.put_atomic({"/elasticsearch/host": b"es-9", "/logstash/host": b"ls-9"}, {})
        root.close()
        wait_for(
            lambda: any(b.events for b in batches) or errors, timeout=10, what="the transaction"
        )
        assert not errors
        changed = [b for b in batches if b.events]
        assert [sorted(e.key for e in b.events) for b in changed] == [
            ["/elasticsearch/host", "/logstash/host"]
        ]
    finally:
        stop.set()
        thread.join(timeout=10)
        store.close()
