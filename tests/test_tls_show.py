"""`tls show`'s verdict on a published keypair, from PEM bytes alone (no etcd)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from confpy.tls import keypairs as tls
from confpy.tls.show import Published, examine


def pair(**kwargs: object) -> tuple[bytes, bytes]:
    key = tls.generate_key("ec-p256")
    cert = tls.build_certificate(key, "svc.example", **kwargs)  # type: ignore[arg-type]
    return tls.cert_to_pem(cert), tls.key_to_pem(key)


def published(cert: bytes, key: bytes | None, key_rev: int = 5) -> Published:
    return Published("/tls/cert", cert, 5, "/tls/key", key, key_rev)


def test_a_fresh_matching_pair_has_no_problems() -> None:
    cert, key = pair()
    found = examine(published(cert, key))
    assert found.problems == []
    assert ("private key", "/tls/key (mod revision 5): matches the certificate") in found.lines


def test_a_key_from_another_pair_is_a_problem_naming_both_keys() -> None:
    cert, _ = pair()
    _, other = pair()
    assert examine(published(cert, other)).problems == [
        "the private key /tls/key does not match /tls/cert"
    ]


def test_a_missing_key_is_a_problem_unless_cert_only() -> None:
    cert, _ = pair()
    assert examine(published(cert, None)).problems
    assert examine(published(cert, None), cert_only=True).problems == []


def test_an_expired_certificate_is_a_problem() -> None:
    cert, key = pair(days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    problems = examine(published(cert, key), now=later).problems
    assert problems[0].startswith("the certificate expired at")


def test_a_local_key_file_is_checked_against_the_certificate(tmp_path: Path) -> None:
    cert, key = pair()
    local = tmp_path / "key.pem"
    local.write_bytes(key)
    found = examine(published(cert, None), cert_only=True, local_key=local)
    assert found.problems == [] and found.lines[-1] == (
        "local key",
        f"{local}: matches the certificate",
    )
