"""etcd with authentication: login over plain http, refused logins and roles, token expiry."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.embedded import EtcdServer, find_etcd
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd

ROOT_PASSWORD = "root-pw"


@pytest.fixture(scope="module")
def auth_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """An etcd with auth enabled, simple tokens that expire after 1 s, a reader and a nobody."""
    server = EtcdServer(tmp_path_factory.mktemp("auth") / "data",
                        extra_args=("--auth-token", "simple", "--auth-token-ttl", "1"))
    server.start()
    ctl = [str(find_etcd("etcdctl")), "--endpoints", server.url]

    def run(*args: str) -> None:
        subprocess.run([*ctl, *args], check=True, capture_output=True)

    run("user", "add", "root", "--new-user-password", ROOT_PASSWORD)
    run("user", "add", "reader", "--new-user-password", "reader-pw")
    run("user", "add", "nobody", "--new-user-password", "nobody-pw")
    run("role", "add", "app-read")
    run("role", "grant-permission", "app-read", "--prefix=true", "read", "/app")
    run("user", "grant-role", "reader", "app-read")
    run("auth", "enable")
    run("--user", f"root:{ROOT_PASSWORD}", "put", "/app/v", "1")
    yield server
    server.stop()


def as_user(confpy: Confpy, server: EtcdServer, user: str, password: str) -> dict[str, str]:
    return confpy.env(CONFPY_ENDPOINTS=server.url, CONFPY_USERNAME=user, CONFPY_PASSWORD=password)


def test_login_over_plain_http_renders(confpy_offline: Confpy, auth_etcd: EtcdServer, tmp_path: Path) -> None:
    """Username and password work on an http:// endpoint (the token travels as metadata)."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run("render", "--onetime", "--confdir", str(tree.confdir),
                                env=as_user(confpy_offline, auth_etcd, "reader", "reader-pw"))
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "1"


def test_wrong_password_exits_2_with_a_clear_message(confpy_offline: Confpy, auth_etcd: EtcdServer,
                                                     tmp_path: Path) -> None:
    """A refused login is a configuration error, not an outage; the password is not echoed."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run("render", "--onetime", "--confdir", str(tree.confdir),
                                env=as_user(confpy_offline, auth_etcd, "reader", "wrong-pw"))
    assert result.returncode == 2
    assert "etcd refused the login" in result.stderr
    assert "wrong-pw" not in result.stderr


def test_user_without_read_permission_exits_2_naming_roles(confpy_offline: Confpy, auth_etcd: EtcdServer,
                                                           tmp_path: Path) -> None:
    """A user whose roles do not cover the keys gets a message about roles, exit 2."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run("render", "--onetime", "--confdir", str(tree.confdir),
                                env=as_user(confpy_offline, auth_etcd, "nobody", "nobody-pw"))
    assert result.returncode == 2
    assert "check the etcd user's roles" in result.stderr


def test_daemon_logs_in_again_after_its_token_expires(confpy_offline: Confpy, auth_etcd: EtcdServer,
                                                      tmp_path: Path) -> None:
    """etcd drops an unused simple token after 1 s here; polling every 2 s, each read needs a new login."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    proc = confpy_offline.start("render", "--interval", "2s", "--confdir", str(tree.confdir),
                                env=as_user(confpy_offline, auth_etcd, "root", ROOT_PASSWORD))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(lambda: dest.exists() and dest.read_text() in ("1", "2"), what="first render")
        wait_for(lambda: any("auth token expired" in line for line in lines), timeout=15,
                 what="the daemon to meet an expired token")
        subprocess.run([str(find_etcd("etcdctl")), "--endpoints", auth_etcd.url, "--user",
                        f"root:{ROOT_PASSWORD}", "put", "/app/v", "2"], check=True, capture_output=True)
        wait_for(lambda: dest.read_text() == "2", timeout=15, what="the change after logging in again")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
