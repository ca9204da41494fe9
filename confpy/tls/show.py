"""What `confpy tls show` finds in a published keypair: a table of facts and the problems.

`examine()` loads the certificate chain, checks its validity period and that each
certificate is signed by the next, and that the private key (published, or a local file)
matches the leaf. It prints nothing: `confpy.commands.tls` shows the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from confpy.errors import ConfigError
from confpy.tls import keypairs as tls


@dataclass(frozen=True)
class Published:
    """A certificate and its key as read from etcd, with their mod revisions."""

    cert_key: str
    cert_pem: bytes
    cert_rev: int
    key_key: str
    key_pem: bytes | None
    key_rev: int


@dataclass
class Examination:
    """What `examine()` found."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    """(label, text) rows, in the order `tls show` prints them."""
    problems: list[str] = field(default_factory=list)
    """Why the keypair is not usable (empty: it is)."""


def examine(
    published: Published,
    *,
    cert_only: bool = False,
    local_key: Path | None = None,
    now: dt.datetime | None = None,
) -> Examination:
    """Check `published` (and `local_key`, a key file kept off etcd) at `now`."""
    now = now or dt.datetime.now(dt.UTC)
    chain = tls.load_chain(published.cert_pem, what=published.cert_key)
    leaf = chain[0]
    info = tls.inspect(leaf)
    found = Examination(
        [
            ("certificate", f"{published.cert_key} (mod revision {published.cert_rev})"),
            ("subject", info.subject),
            ("SANs", ", ".join(info.sans) or "(none)"),
            ("issuer", info.issuer + (" (self-signed)" if info.self_signed else "")),
            ("not before", info.not_before.isoformat()),
            ("not after", f"{info.not_after.isoformat()} ({_until(info.not_after - now)})"),
            ("serial", f"{info.serial:x}"),
            ("key type", info.key_type),
            ("fingerprint", f"SHA256 {info.fingerprint_sha256}"),
        ]
    )
    if info.expired(now):
        found.problems.append(f"the certificate expired at {info.not_after.isoformat()}")
    elif info.not_yet_valid(now):
        found.problems.append(f"the certificate is not valid before {info.not_before.isoformat()}")
    _check_chain(found, chain, published.cert_key)
    _check_published_key(found, published, leaf, cert_only)
    if local_key is not None:
        _check_local_key(found, local_key, leaf, published.cert_key)
    return found


def _check_chain(found: Examination, chain: list[x509.Certificate], cert_key: str) -> None:
    """Each certificate of the chain must be signed by the next one."""
    if len(chain) < 2:
        return
    broken = [i for i in range(len(chain) - 1) if not tls.is_issued_by(chain[i], chain[i + 1])]
    verdict = "does NOT verify" if broken else "verifies"
    found.lines.append(("chain", f"{len(chain)} certificates, {verdict}"))
    if broken:
        found.problems.append(
            f"certificate {broken[0] + 1} of the chain in {cert_key} is not signed by the next one"
        )


def _check_published_key(
    found: Examination, published: Published, leaf: x509.Certificate, cert_only: bool
) -> None:
    """The published key must be there (unless --cert-only) and match the certificate."""
    key_key = published.key_key
    if published.key_pem is None:
        if cert_only:
            found.lines.append(("private key", f"{key_key}: absent, as expected (--cert-only)"))
        else:
            found.lines.append(("private key", f"{key_key}: MISSING"))
            found.problems.append(
                f"the private key {key_key} is missing "
                "(use --cert-only if it is kept off etcd on purpose)"
            )
        return
    label = f"{key_key} (mod revision {published.key_rev})"
    try:
        matches = tls.key_matches_cert(tls.load_key(published.key_pem, what=key_key), leaf)
    except ConfigError as e:
        found.lines.append(("private key", f"{label}: unreadable"))
        found.problems.append(str(e))
    else:
        verdict = "matches the certificate" if matches else "does NOT match"
        found.lines.append(("private key", f"{label}: {verdict}"))
        if not matches:
            found.problems.append(f"the private key {key_key} does not match {published.cert_key}")
        if published.key_rev != published.cert_rev:
            found.lines.append(("note", "key and certificate were written at different revisions"))
    if cert_only:
        found.lines.append(
            (
                "warning",
                f"a private key is published at {key_key} "
                "although --cert-only: anyone who reads etcd can impersonate",
            )
        )


def _check_local_key(found: Examination, path: Path, leaf: x509.Certificate, cert_key: str) -> None:
    """--local-key: the key kept off etcd must match the published certificate."""
    try:
        local = tls.load_key(path.read_bytes(), what=f"--local-key {path}")
    except OSError as e:
        raise ConfigError(f"--local-key: cannot read {path}: {e.strerror}") from None
    matches = tls.key_matches_cert(local, leaf)
    verdict = "matches the certificate" if matches else "does NOT match"
    found.lines.append(("local key", f"{path}: {verdict}"))
    if not matches:
        found.problems.append(f"--local-key {path} does not match {cert_key}")


def _until(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    word = "in" if seconds >= 0 else "expired"
    s = abs(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes}m"
    else:
        text = f"{minutes}m {rest % 60}s"
    return f"{word} {text}" if seconds >= 0 else f"{word} {text} ago"
