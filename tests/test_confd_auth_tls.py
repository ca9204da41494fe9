"""`confpy confd` logs in (-basic-auth) and speaks TLS (-client-*, CONFD_CLIENT_*) as confd.

Each case renders with the real confd and with `confpy confd` from the same command line
and compares the bytes; a refused login fails both, without the password in a message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from confpy.testing.etcd import EtcdServer
from tests.confd_diff import CONFD, confd_available, confd_env

pytestmark = [
    pytest.mark.etcd,
    pytest.mark.skipif(
        not confd_available(), reason=f"the confd binary is absent ({CONFD}; set CONFD_BIN)"
    ),
]


def render_both(
    tmp_path: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], bytes | None, subprocess.CompletedProcess[str], bytes | None]:  # fmt: skip
    """confd ARGS and `confpy confd ARGS` -onetime on their own confdirs: results, files."""
    found = []
    for name, program in (("confd", [str(CONFD)]),
                          ("confpy", [sys.executable, "-m", "confpy", "confd"])):  # fmt: skip
        out = tmp_path / f"out-{name}"
        confdir = tmp_path / f"confdir-{name}"
        (confdir / "conf.d").mkdir(parents=True)
        (confdir / "templates").mkdir()
        (confdir / "templates" / "v.tmpl").write_text('v={{getv "/app/v"}}\n')
        (confdir / "conf.d" / "v.toml").write_text(
            f'[template]\nsrc = "v.tmpl"\ndest = "{out}"\nkeys = ["/app"]\n'
        )
        result = subprocess.run(
            [*program, "-onetime", "-backend", "etcdv3", "-confdir", str(confdir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env or confd_env(),
        )
        found += [result, out.read_bytes() if out.exists() else None]
    return found[0], found[1], found[2], found[3]


def test_basic_auth_logs_in_as_confd_does(auth_etcd: EtcdServer, tmp_path: Path) -> None:
    """-basic-auth -username reader -password ...: the same file as confd."""
    args = ["-node", auth_etcd.url, "-basic-auth", "-username", "reader", "-password", "reader-pw"]
    confd, confd_out, confpy, confpy_out = render_both(tmp_path, args)
    assert confd.returncode == 0 and confd_out == b"v=1\n"
    assert confpy.returncode == 0, confpy.stderr
    assert confpy_out == confd_out


def test_a_wrong_password_fails_both_and_is_never_printed(
    auth_etcd: EtcdServer,
    tmp_path: Path,
) -> None:
    """A refused login: exit 1 (confd's code), nothing written, the password in no message."""
    args = ["-node", auth_etcd.url, "-basic-auth", "-username", "reader", "-password", "wr0ng-pw"]
    confd, confd_out, confpy, confpy_out = render_both(tmp_path, args)
    assert confd.returncode == confpy.returncode == 1
    assert confd_out is None and confpy_out is None
    assert "wr0ng-pw" not in confpy.stderr + confpy.stdout


def test_tls_flags_connect_as_confd_does(
    tls_etcd: tuple[EtcdServer, dict[str, Path]],
    tmp_path: Path,
) -> None:
    """-client-ca-keys, -client-cert, -client-key against an etcd that requires them."""
    server, pki = tls_etcd
    _put(server, pki)
    args = ["-node", server.url, "-client-ca-keys", str(pki["ca"]), "-client-cert",
            str(pki["cert"]), "-client-key", str(pki["key"])]  # fmt: skip
    confd, confd_out, confpy, confpy_out = render_both(tmp_path, args)
    assert confd.returncode == 0 and confd_out == b"v=tls\n", confd.stderr
    assert confpy_out == confd_out, confpy.stderr


def test_confd_client_variables_give_the_tls_files(
    tls_etcd: tuple[EtcdServer, dict[str, Path]],
    tmp_path: Path,
) -> None:
    """CONFD_CLIENT_CAKEYS/CERT/KEY stand in for the flags, as in confd."""
    server, pki = tls_etcd
    _put(server, pki)
    env = confd_env() | {
        "CONFD_CLIENT_CAKEYS": str(pki["ca"]),
        "CONFD_CLIENT_CERT": str(pki["cert"]),
        "CONFD_CLIENT_KEY": str(pki["key"]),
    }
    confd, confd_out, confpy, confpy_out = render_both(tmp_path, ["-node", server.url], env)
    assert confd.returncode == 0 and confd_out == b"v=tls\n", confd.stderr
    assert confpy_out == confd_out, confpy.stderr


def _put(server: EtcdServer, pki: dict[str, Path]) -> None:
    from confpy.config.settings import load_settings
    from confpy.store import EtcdStore

    store = EtcdStore(
        load_settings(
            {"endpoints": server.url, "confdir": "/nonexistent", "ca_file": str(pki["ca"]),
             "cert_file": str(pki["cert"]), "key_file": str(pki["key"])},
            {},
        )
    )  # fmt: skip
    try:
        store.put("/app/v", b"tls")
    finally:
        store.close()
