"""Pure X.509 logic: generate keys, build and sign leaf certificates, encode, decode, inspect.

With confpy.tls.names (what a certificate may name, and for how long), the only module
that imports `cryptography`. Nothing here talks to etcd or the file system, and nothing
here logs: callers decide what is safe to log (never key PEM).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from confpy.errors import ConfigError
from confpy.tls.names import check_common_name, check_validity

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]  # noqa: UP007

_SUPPORTED_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384", "ed25519")
DEFAULT_KEY_TYPE = "rsa2048"

# Backdate notBefore a little: a consumer whose clock runs slightly behind must not see a
# certificate that is "not yet valid" right after a rotation.
CLOCK_SKEW = dt.timedelta(minutes=5)


def generate_key(key_type: str = DEFAULT_KEY_TYPE) -> PrivateKey:
    """A fresh private key of `key_type` (one of KEY_TYPES)."""
    if key_type.startswith("rsa") and key_type[3:] in ("2048", "3072", "4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigError(f"--key-type: unknown key type {key_type!r} (use {', '.join(KEY_TYPES)})")


def build_certificate(
    key: PrivateKey,
    common_name: str,
    sans: Sequence[x509.GeneralName] = (),
    *,
    days: float = 30,
    issuer_cert: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A leaf certificate for TLS server and client use, self-signed unless an issuer is given.

    The leaf is never a CA (basicConstraints CA:false). A self-signed leaf carries
    keyCertSign so that OpenSSL treats it as self-issued and accepts it as its own trust
    anchor when a client trusts exactly this certificate.
    """
    check_common_name(common_name)
    validity = check_validity(days)
    if (issuer_cert is None) != (issuer_key is None):
        raise ConfigError("signing with a CA needs both its certificate and its key")
    if (
        issuer_cert is not None
        and issuer_key is not None
        and not key_matches_cert(issuer_key, issuer_cert)
    ):
        raise ConfigError("the CA key does not match the CA certificate")
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    self_signed = issuer_cert is None
    signer = key if self_signed else issuer_key
    assert signer is not None  # for the type checker: guarded above
    issuer_name = subject if issuer_cert is None else issuer_cert.subject
    general_names = list(sans)
    if not general_names:
        # Modern TLS clients ignore the CN: without a SAN, hostname checks could never pass.
        general_names = [_default_san(common_name)]
    public = key.public_key()
    # RSA keys may also be used for RSA key transport (TLS 1.2 RSA kx); EC/Ed keys never.
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SKEW)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=self_signed,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(general_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    return builder.sign(signer, signature_hash(signer))


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The hash a signature by `key` uses: None for Ed25519, which hashes for itself."""
    # Ed25519 signs the message itself; passing a hash is an error for it.
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _default_san(common_name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(common_name))
    except ValueError:
        return x509.DNSName(common_name)


# -- PEM ---------------------------------------------------------------------------------------


def key_to_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: what nginx, Logstash and Python's ssl all load."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def chain_to_pem(certs: Sequence[x509.Certificate]) -> bytes:
    """Leaf first, then each issuer: the order servers send and load_cert_chain expects."""
    return b"".join(cert_to_pem(c) for c in certs)


def load_key(data: bytes, *, what: str = "private key") -> PrivateKey:
    """Parse an unencrypted PEM private key. The error never quotes the data."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{what}: not an unencrypted PEM private key") from None
    if not isinstance(key, _SUPPORTED_KEYS):
        raise ConfigError(f"{what}: unsupported key algorithm {type(key).__name__}")
    return key


def load_chain(data: bytes, *, what: str = "certificate") -> list[x509.Certificate]:
    """Parse one or more PEM certificates, leaf first."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"{what}: not a PEM certificate") from None
    if not certs:
        raise ConfigError(f"{what}: no certificate found")
    return certs


def load_certificate(data: bytes, *, what: str = "certificate") -> x509.Certificate:
    """The first (leaf) certificate of a PEM bundle."""
    return load_chain(data, what=what)[0]


# -- inspection --------------------------------------------------------------------------------


def _public_der(public: CertificatePublicKeyTypes) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches_cert(key: PrivateKey, cert: x509.Certificate) -> bool:
    """True when `cert` certifies the public half of `key`."""
    return _public_der(key.public_key()) == _public_der(cert.public_key())


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer`'s name and key signed `cert`."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex (openssl's format)."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def key_type_of(key_or_public: object) -> str:
    """A short name for the key algorithm, e.g. `rsa2048`, `ec-p256`, `ed25519`."""
    if isinstance(key_or_public, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa{key_or_public.key_size}"
    if isinstance(key_or_public, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(
            key_or_public.curve.name, f"ec-{key_or_public.curve.name}"
        )
    if isinstance(key_or_public, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(key_or_public).__name__


@dataclass(frozen=True)
class CertInfo:
    """What `confpy tls show` prints about one certificate. Holds no key material."""

    subject: str
    common_name: str | None
    sans: tuple[str, ...]
    issuer: str
    self_signed: bool
    is_ca: bool
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str
    key_type: str

    @property
    def validity(self) -> dt.timedelta:
        return self.not_after - self.not_before

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) >= self.not_after

    def not_yet_valid(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) < self.not_before


def inspect(cert: x509.Certificate) -> CertInfo:
    """Summarise a certificate for display and checks."""
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = tuple(
            [f"DNS:{n}" for n in san_ext.get_values_for_type(x509.DNSName)]
            + [f"IP:{a}" for a in san_ext.get_values_for_type(x509.IPAddress)]
            + [f"URI:{u}" for u in san_ext.get_values_for_type(x509.UniformResourceIdentifier)]
            + [f"email:{m}" for m in san_ext.get_values_for_type(x509.RFC822Name)]
        )
    except x509.ExtensionNotFound:
        sans = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = cns[0].value if cns else None
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        common_name=cn if isinstance(cn, str) else None,
        sans=sans,
        issuer=cert.issuer.rfc4514_string(),
        self_signed=cert.issuer == cert.subject and is_issued_by(cert, cert),
        is_ca=bool(is_ca),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=fingerprint(cert),
        key_type=key_type_of(cert.public_key()),
    )
