"""Pure crypto unit tests for confpy.tls.keypairs: keys, certificates, PEM, inspection, handshakes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from confpy.errors import ConfigError
from confpy.tls import keypairs as tls
from confpy.tls import names as tls_names
from tests.handshake import handshake
from tests.pki import build_ca

SANS = ("IP:127.0.0.1", "DNS:logstash.internal")


def self_signed(key_type: str = "ec-p256", sans: tuple[str, ...] = SANS, days: float = 30):
    key = tls.generate_key(key_type)
    cert = tls.build_certificate(key, "logstash", [tls_names.parse_san(s) for s in sans], days=days)
    return key, cert


@pytest.mark.parametrize("key_type", tls.KEY_TYPES)
def test_generate_key_has_requested_type(key_type: str) -> None:
    """Each --key-type produces a key of that algorithm and size."""
    assert tls.key_type_of(tls.generate_key(key_type)) == key_type


def test_unknown_key_type_is_a_config_error() -> None:
    """An unknown key type names --key-type."""
    with pytest.raises(ConfigError, match="--key-type"):
        tls.generate_key("dsa1024")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IP:10.0.0.7", x509.IPAddress(ipaddress.ip_address("10.0.0.7"))),
        ("ip:::1", x509.IPAddress(ipaddress.ip_address("::1"))),
        ("DNS:logstash.internal", x509.DNSName("logstash.internal")),
        ("10.0.0.8", x509.IPAddress(ipaddress.ip_address("10.0.0.8"))),
        ("fe80::1", x509.IPAddress(ipaddress.ip_address("fe80::1"))),
        ("logstash", x509.DNSName("logstash")),
        ("DNS:*.svc.local", x509.DNSName("*.svc.local")),
        (
            "URI:spiffe://example.org/ns/app",
            x509.UniformResourceIdentifier("spiffe://example.org/ns/app"),
        ),
        ("email:ops@example.org", x509.RFC822Name("ops@example.org")),
        ("EMAIL:ops@example.org", x509.RFC822Name("ops@example.org")),
    ],
)
def test_parse_san_accepts_ip_and_dns_forms(text: str, expected: x509.GeneralName) -> None:
    """SANs parse from IP:/DNS: prefixes or bare addresses and names."""
    assert tls_names.parse_san(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "IP:10.0.0.300",
        "DNS:",
        "DNS:bad name",
        "IP:",
        "FOO:bar",
        "URI:no-scheme",
        "URI:",
        "email:nobody",
        "email:a@b c",
        "DNS:a..b",
        "host:8080",
        "DNS:x\ty",
    ],
)
def test_parse_san_rejects_garbage_naming_the_flag(text: str) -> None:
    """A malformed SAN is a ConfigError naming --san."""
    with pytest.raises(ConfigError, match="--san"):
        tls_names.parse_san(text)


def test_certificate_has_requested_subject_sans_and_validity() -> None:
    """CN, SANs and notAfter are as asked; notBefore is slightly backdated for skew."""
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    key = tls.generate_key("ec-p256")
    cert = tls.build_certificate(
        key, "logstash", [tls_names.parse_san(s) for s in SANS], days=30, now=now
    )
    info = tls.inspect(cert)
    assert info.common_name == "logstash"
    assert set(info.sans) == {"IP:127.0.0.1", "DNS:logstash.internal"}
    assert info.not_after == now + dt.timedelta(days=30)
    assert now - dt.timedelta(minutes=10) < info.not_before <= now
    assert info.self_signed and not info.is_ca


def test_certificate_extensions_fit_tls_server_and_client() -> None:
    """CA:false (critical), digitalSignature, serverAuth and clientAuth are present."""
    _, cert = self_signed("rsa2048")
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_certificate_without_sans_gets_the_cn_as_san() -> None:
    """With no --san the CN becomes a DNS SAN, since clients ignore the CN."""
    _, cert = self_signed(sans=())
    assert tls.inspect(cert).sans == ("DNS:logstash",)


def test_serials_are_random() -> None:
    """Two certificates never share a serial."""
    assert self_signed()[1].serial_number != self_signed()[1].serial_number


def test_key_matches_its_certificate_only() -> None:
    """key_matches_cert is true for the pair and false for another key."""
    key, cert = self_signed()
    assert tls.key_matches_cert(key, cert)
    assert not tls.key_matches_cert(tls.generate_key("ec-p256"), cert)


@pytest.mark.parametrize("key_type", tls.KEY_TYPES)
def test_pem_round_trip(key_type: str) -> None:
    """Key and certificate survive PEM encoding and still match."""
    key, cert = self_signed(key_type)
    key2 = tls.load_key(tls.key_to_pem(key))
    cert2 = tls.load_certificate(tls.cert_to_pem(cert))
    assert cert2 == cert
    assert tls.key_matches_cert(key2, cert2)


def test_load_key_error_does_not_quote_the_data() -> None:
    """A broken key PEM gives an error that never contains the PEM."""
    key, _ = self_signed()
    broken = tls.key_to_pem(key)[:-80]
    with pytest.raises(ConfigError) as info:
        tls.load_key(broken, what="/x/ssl_private_key")
    assert "PRIVATE KEY" not in str(info.value)
    assert "/x/ssl_private_key" in str(info.value)


def test_fingerprint_is_sha256_colon_hex() -> None:
    """The fingerprint is 32 colon-separated upper-case hex bytes."""
    _, cert = self_signed()
    fp = tls.inspect(cert).fingerprint_sha256
    assert len(fp.split(":")) == 32 and fp == fp.upper()


def test_expired_certificate_is_reported_expired() -> None:
    """CertInfo.expired is true after notAfter."""
    _, cert = self_signed(days=1)
    info = tls.inspect(cert)
    assert not info.expired()
    assert info.expired(info.not_after + dt.timedelta(seconds=1))


def test_ca_signed_leaf_names_issuer_and_verifies() -> None:
    """A CA-signed leaf carries the CA as issuer and its signature verifies."""
    ca_key = tls.generate_key("ec-p256")
    ca = build_ca(ca_key, "Test CA")
    key = tls.generate_key("rsa2048")
    leaf = tls.build_certificate(
        key, "app", [tls_names.parse_san("DNS:app")], issuer_cert=ca, issuer_key=ca_key
    )
    info = tls.inspect(leaf)
    assert info.issuer == "CN=Test CA" and not info.self_signed
    assert tls.is_issued_by(leaf, ca)
    assert not tls.is_issued_by(leaf, leaf)


def test_mismatched_ca_key_is_refused() -> None:
    """Signing with a CA key that does not belong to the CA certificate is refused."""
    ca = build_ca(tls.generate_key("ec-p256"), "Test CA")
    with pytest.raises(ConfigError, match="CA key does not match"):
        tls.build_certificate(
            tls.generate_key("ec-p256"),
            "app",
            issuer_cert=ca,
            issuer_key=tls.generate_key("ec-p256"),
        )


@pytest.mark.parametrize("key_type", tls.KEY_TYPES)
@pytest.mark.parametrize("hostname", ["127.0.0.1", "logstash.internal"])
def test_self_signed_leaf_is_its_own_trust_anchor(
    tmp_path: Path, key_type: str, hostname: str
) -> None:
    """A client trusting only the self-signed leaf completes a handshake, checking the SAN."""
    key, cert = self_signed(key_type)
    pem = tls.cert_to_pem(cert)
    assert handshake(tmp_path, pem, tls.key_to_pem(key), pem, hostname)


def test_self_signed_leaf_passes_x509_strict(tmp_path: Path) -> None:
    """The leaf also verifies with VERIFY_X509_STRICT (Python 3.13's default)."""
    key, cert = self_signed("rsa2048")
    pem = tls.cert_to_pem(cert)
    assert handshake(tmp_path, pem, tls.key_to_pem(key), pem, "logstash.internal", strict=True)


def test_handshake_fails_for_a_name_not_in_the_sans(tmp_path: Path) -> None:
    """check_hostname rejects a hostname that is not among the SANs."""
    key, cert = self_signed()
    pem = tls.cert_to_pem(cert)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tmp_path, pem, tls.key_to_pem(key), pem, "other.internal")


def test_ca_signed_chain_handshakes_with_ca_as_only_trust(tmp_path: Path) -> None:
    """A leaf signed by a CA, served with its chain, verifies against the CA alone."""
    ca_key = tls.generate_key("ec-p384")
    ca = build_ca(ca_key, "Test CA")
    key = tls.generate_key("ec-p256")
    leaf = tls.build_certificate(
        key, "app", [tls_names.parse_san("IP:127.0.0.1")], issuer_cert=ca, issuer_key=ca_key
    )
    chain = tls.chain_to_pem([leaf, ca])
    assert handshake(
        tmp_path, chain, tls.key_to_pem(key), tls.cert_to_pem(ca), "127.0.0.1", strict=True
    )


def test_command_modules_import_nothing_heavy() -> None:
    """`confpy --help` stays fast: tls/register command modules load no crypto or grpc."""
    import subprocess
    import sys

    code = (
        "import sys, confpy.commands.tls, confpy.commands.register\n"
        "heavy = [m for m in ('cryptography', 'grpc', 'etcd3', 'tenacity') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_uri_and_email_sans_are_published_as_what_they_are() -> None:
    """`URI:` and `email:` become URI and RFC 822 names, never DNS names."""
    _key, cert = self_signed(sans=("URI:spiffe://example.org/app", "email:ops@example.org"))
    assert tls.inspect(cert).sans == ("URI:spiffe://example.org/app", "email:ops@example.org")


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0.0000001, "would expire before anyone could use it"),
        (1e9, "more than 36500"),
        (float("nan"), "must be a positive number of days"),
        (float("inf"), "must be a positive number of days"),
        (0, "must be a positive number of days"),
    ],
)
def test_validity_that_is_over_already_or_absurd_is_refused(days: float, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^--days: .*{message}"):
        tls_names.check_validity(days)


def test_common_name_longer_than_x509_allows_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"^--cn: 100 characters is longer than X.509 allows \(64\)"
    ):
        tls.build_certificate(tls.generate_key("ec-p256"), "x" * 100)
