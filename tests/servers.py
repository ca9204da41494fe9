"""etcd servers that several test modules share: one with auth enabled, one over TLS.

Loaded as a pytest plugin by tests/conftest.py, so any test module can ask for
`auth_etcd` or `tls_etcd` by name (each module gets its own server: module scope).
"""

from __future__ import annotations

import datetime
import ipaddress
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from confpy.testing.etcd import EtcdServer, find_etcd

ROOT_PASSWORD = "root-pw"


@pytest.fixture(scope="module")
def auth_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """An etcd with auth enabled, simple tokens that expire after 1 s, a reader and a nobody."""
    server = EtcdServer(
        tmp_path_factory.mktemp("auth") / "data",
        extra_args=("--auth-token", "simple", "--auth-token-ttl", "1"),
    )
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
    # Read on two prefixes, not on the span between them that confpy's one watch covers.
    run("user", "add", "split", "--new-user-password", "split-pw")
    run("role", "add", "two-prefixes")
    run("role", "grant-permission", "two-prefixes", "--prefix=true", "read", "/elasticsearch/")
    run("role", "grant-permission", "two-prefixes", "--prefix=true", "read", "/logstash/")
    run("user", "grant-role", "split", "two-prefixes")
    run("auth", "enable")
    run("--user", f"root:{ROOT_PASSWORD}", "put", "/app/v", "1")
    run("--user", f"root:{ROOT_PASSWORD}", "put", "/elasticsearch/host", "es-1")
    run("--user", f"root:{ROOT_PASSWORD}", "put", "/logstash/host", "ls-1")
    yield server
    server.stop()


def _write_pair(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, base: Path
) -> tuple[Path, Path]:
    cert_path, key_path = base.with_suffix(".crt"), base.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def make_pki(directory: Path, ca_name: str = "confpy test CA") -> dict[str, Path]:
    """A CA, and a certificate for 127.0.0.1 usable by the etcd server and by clients."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = _write_pair(cert, key, directory / "member")
    return {"ca": ca_path, "cert": cert_path, "key": key_path}


@pytest.fixture(scope="module")
def tls_etcd(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EtcdServer, dict[str, Path]]]:
    """An etcd serving clients over https only, requiring a client certificate from its CA."""
    base = tmp_path_factory.mktemp("tls-etcd")
    pki = make_pki(base / "pki")
    server = EtcdServer(base / "data", tls=(pki["ca"], pki["cert"], pki["key"]))
    server.start()
    yield server, pki
    server.stop()


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd of the test's own, free to be frozen, wiped and replaced."""
    server = EtcdServer(tmp_path / "etcd" / "data")
    server.start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()
