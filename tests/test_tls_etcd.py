"""etcd over TLS with client certificates: the gateway store verifies and presents certificates."""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer
from tests.conftest import Confpy
from tests.helpers import ConfTree
from tests.servers import make_pki

pytestmark = pytest.mark.etcd


def tls_env(confpy: Confpy, server: EtcdServer, pki: dict[str, Path]) -> dict[str, str]:
    return confpy.env(
        CONFPY_ENDPOINTS=server.url,
        CONFPY_CA_FILE=str(pki["ca"]),
        CONFPY_CERT_FILE=str(pki["cert"]),
        CONFPY_KEY_FILE=str(pki["key"]),
    )


def test_store_reads_writes_and_watches_over_tls_with_a_client_certificate(
    tls_etcd: tuple[EtcdServer, dict[str, Path]],
) -> None:
    """Every kind of call works over https with the CA and a client certificate."""
    import threading

    server, pki = tls_etcd
    store = EtcdStore(
        load_settings(
            {
                "endpoints": server.url,
                "confdir": "/nonexistent",
                "ca_file": str(pki["ca"]),
                "cert_file": str(pki["cert"]),
                "key_file": str(pki["key"]),
            },
            {},
        )
    )
    try:
        revision = store.put("/tls/v", b"secret-ish")
        assert store.get("/tls/v") == (b"secret-ish", revision)
        stop = threading.Event()
        watch = store.watch(["/tls"], revision, stop)
        assert next(watch).revision == revision - 1
        assert [e.value for e in next(watch).events] == [b"secret-ish"]
        stop.set()
        assert list(watch) == []
    finally:
        store.close()


def test_render_over_tls_with_client_certificate(
    confpy_offline: Confpy, tmp_path: Path, tls_etcd: tuple[EtcdServer, dict[str, Path]]
) -> None:
    """`render --onetime` against an https-only etcd that requires client certificates."""
    server, pki = tls_etcd
    store = EtcdStore(
        load_settings(
            {
                "endpoints": server.url,
                "confdir": "/nonexistent",
                "ca_file": str(pki["ca"]),
                "cert_file": str(pki["cert"]),
                "key_file": str(pki["key"]),
            },
            {},
        )
    )
    store.put("/app/v", b"over-tls")
    store.close()
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        env=tls_env(confpy_offline, server, pki),
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "over-tls"


def test_server_certificate_from_another_ca_is_refused(
    confpy_offline: Confpy, tmp_path: Path, tls_etcd: tuple[EtcdServer, dict[str, Path]]
) -> None:
    """A CA that did not sign etcd's certificate: the endpoint is not trusted, nothing is read."""
    server, pki = tls_etcd
    other = make_pki(tmp_path / "other", ca_name="someone else's CA")
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    env = tls_env(confpy_offline, server, pki) | {"CONFPY_CA_FILE": str(other["ca"])}
    result = confpy_offline.run("render", "--onetime", "--confdir", str(tree.confdir), env=env)
    assert result.returncode == 3
    assert "certificate verify failed" in result.stderr


@pytest.mark.parametrize("wait", [(), ("--wait-for-keys", "30s")], ids=["once", "wait-for-keys"])
def test_garbage_ca_file_is_a_configuration_error(
    confpy_offline: Confpy,
    tmp_path: Path,
    tls_etcd: tuple[EtcdServer, dict[str, Path]],
    wait: tuple[str, ...],
) -> None:
    """A --ca-file that is not PEM exits 2 with one line naming the flag and the file, at
    once: it is not an outage, so --wait-for-keys does not retry it."""
    server, pki = tls_etcd
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/app/v') }}", ["/app"])
    env = tls_env(confpy_offline, server, pki)
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--ca-file",
        str(garbage),
        *wait,
        env=env,
        timeout=20,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "--ca-file" in lines[0] and str(garbage) in lines[0]
    assert "Traceback" not in result.stderr
