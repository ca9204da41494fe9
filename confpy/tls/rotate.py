"""Rotate a TLS keypair published in etcd: issue, publish in one transaction (the timer that
renews it is confpy.tls.every).

Layouts (see docs/tls.md):
  shared key        PREFIX/ssl_certificate and PREFIX/ssl_private_key, written together
  certificate only  PREFIX/ssl_certificate; the key stays in a local 0600 file (--no-publish-key)
When a CA signs the leaf, PREFIX/ssl_certificate holds the full chain: leaf PEM first, then
the CA certificate(s), the order servers load with `load_cert_chain` / nginx `ssl_certificate`.

Private key material is passed around as bytes and written to etcd or a 0600 file; it is
never logged, never put in an exception message, never passed on a command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tenacity

from confpy.apply.installer import create_beside
from confpy.backoff import Backoff, retrying
from confpy.config.keys import resolve_key
from confpy.errors import (
    ConfigError,
    ConflictError,
    InstallError,
    KeysMissingError,
    StoreUnavailableError,
)
from confpy.log import get_logger
from confpy.store.snapshot import Store
from confpy.tls import keypairs as tls
from confpy.tls import names as tls_names

log = get_logger(__name__)
_T = TypeVar("_T")

CERT_NAME = "ssl_certificate"
# O_EXCL: never write through a file (or symlink) someone planted at the temp name.
KEY_NAME = "ssl_private_key"


@dataclass(frozen=True)
class RotateOptions:
    """Everything one rotation needs, with etcd keys already made absolute."""

    prefix: str
    common_name: str
    sans: tuple[str, ...] = ()
    days: float = 30.0
    key_type: str = tls.DEFAULT_KEY_TYPE
    cert_key: str = ""
    key_key: str = ""
    publish_key: bool = True
    cert_out: Path | None = None
    key_out: Path | None = None
    ca_cert_file: Path | None = None
    ca_key_file: Path | None = None
    ca_prefix: str | None = None

    def __post_init__(self) -> None:
        if not self.cert_key:
            object.__setattr__(self, "cert_key", resolve_key(self.prefix, CERT_NAME))
        if not self.key_key:
            object.__setattr__(self, "key_key", resolve_key(self.prefix, KEY_NAME))

    def validate(self) -> None:
        """Reject flag combinations that cannot work, before any key is generated."""
        if not self.prefix.startswith("/") or self.prefix.rstrip("/") == "":
            raise ConfigError(f"--prefix: must be an absolute key below / (got {self.prefix!r})")
        if self.cert_key == self.key_key:
            raise ConfigError("--cert-key and --key-key must name different keys")
        if not self.publish_key and self.key_out is None:
            raise ConfigError(
                "--no-publish-key needs --key-out FILE: the private key must be kept somewhere"
            )
        if (self.ca_cert_file is None) != (self.ca_key_file is None):
            raise ConfigError("--ca-cert and --ca-key go together")
        if self.ca_cert_file is not None and self.ca_prefix is not None:
            raise ConfigError("use either --ca-cert/--ca-key or --ca-prefix, not both")
        if self.key_type not in tls.KEY_TYPES:
            raise ConfigError(
                f"--key-type: unknown key type {self.key_type!r} (use {', '.join(tls.KEY_TYPES)})"
            )
        tls_names.check_validity(self.days)
        tls_names.check_common_name(self.common_name)
        if self.cert_out is not None and self.key_out is not None and self.cert_out == self.key_out:
            raise ConfigError("--cert-out and --key-out must be different files")
        for san in self.sans:
            tls_names.parse_san(san)


@dataclass(frozen=True)
class Issuer:
    """A CA that signs leaves: its certificate chain (CA first) and its key."""

    chain: tuple[Any, ...]
    key: Any
    source: str


@dataclass(frozen=True)
class Issued:
    """A fresh keypair. `key_pem` is secret: never log it, never repr it."""

    cert: Any
    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    info: tls.CertInfo


@dataclass(frozen=True)
class Published:
    revision: int
    info: tls.CertInfo
    cert_key: str
    key_key: str | None


# -- issuing -----------------------------------------------------------------------------------


def load_issuer(store: Store | None, opts: RotateOptions) -> Issuer | None:
    """The CA from --ca-cert/--ca-key files or from the --ca-prefix keys; None: self-sign."""
    if opts.ca_cert_file is not None and opts.ca_key_file is not None:
        cert_pem = _read_file(opts.ca_cert_file, "--ca-cert")
        key_pem = _read_file(opts.ca_key_file, "--ca-key")
        source = str(opts.ca_cert_file)
        chain = tls.load_chain(cert_pem, what=f"--ca-cert {opts.ca_cert_file}")
        key = tls.load_key(key_pem, what=f"--ca-key {opts.ca_key_file}")
    elif opts.ca_prefix is not None:
        if store is None:
            raise ConfigError("--ca-prefix needs etcd")
        ca_cert_key = resolve_key(opts.ca_prefix, CERT_NAME)
        ca_key_key = resolve_key(opts.ca_prefix, KEY_NAME)
        stored_cert, _ = store.get(ca_cert_key)
        stored_key, _ = store.get(ca_key_key)
        if stored_cert is None or stored_key is None:
            raise KeysMissingError(
                [k for k, v in ((ca_cert_key, stored_cert), (ca_key_key, stored_key)) if v is None]
            )
        cert_pem, key_pem = stored_cert, stored_key
        source = opts.ca_prefix
        chain = tls.load_chain(cert_pem, what=f"--ca-prefix key {ca_cert_key}")
        key = tls.load_key(key_pem, what=f"--ca-prefix key {ca_key_key}")
    else:
        return None
    if not tls.inspect(chain[0]).is_ca:
        raise ConfigError(f"{source}: the CA certificate is not a CA (basicConstraints CA:false)")
    if not tls.key_matches_cert(key, chain[0]):
        raise ConfigError(f"{source}: the CA key does not match the CA certificate")
    return Issuer(tuple(chain), key, source)


def issue(opts: RotateOptions, issuer: Issuer | None, *, now: dt.datetime | None = None) -> Issued:
    """Generate a key and a certificate for it, signed by `issuer` or by itself."""
    key = tls.generate_key(opts.key_type)
    sans = [tls_names.parse_san(s) for s in opts.sans]
    cert = tls.build_certificate(
        key,
        opts.common_name,
        sans,
        days=opts.days,
        issuer_cert=issuer.chain[0] if issuer else None,
        issuer_key=issuer.key if issuer else None,
        now=now,
    )
    chain = [cert, *(issuer.chain if issuer else ())]
    info = tls.inspect(cert)
    if issuer is not None and info.not_after > tls.inspect(issuer.chain[0]).not_after:
        log.warning(
            "certificate outlives its CA",
            ca=issuer.source,
            not_after=info.not_after.isoformat(),
        )
    return Issued(cert, tls.chain_to_pem(chain), tls.key_to_pem(key), info)


# -- publishing --------------------------------------------------------------------------------


def publish(store: Store, opts: RotateOptions, issued: Issued) -> Published:
    """Write certificate (and key) in one transaction that fails if another rotator wrote first.

    The mod revisions are read first and compared in the transaction: of two racing
    rotators exactly one wins, and etcd never holds a certificate from one and a key from
    the other. Local files are staged before and renamed into place only after the
    transaction succeeded, so they always match what etcd holds.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        if opts.key_out is not None:
            staged.append(
                (stage_file(opts.key_out, issued.key_pem, 0o600, "--key-out"), opts.key_out)
            )
        if opts.cert_out is not None:
            staged.append(
                (stage_file(opts.cert_out, issued.chain_pem, 0o644, "--cert-out"), opts.cert_out)
            )
        _, cert_rev = store.get(opts.cert_key)
        values = {opts.cert_key: issued.chain_pem}
        expect = {opts.cert_key: cert_rev}
        _, old_key_rev = store.get(opts.key_key)
        expect[opts.key_key] = old_key_rev
        stale: list[str] = []
        if opts.publish_key:
            values[opts.key_key] = issued.key_pem
        elif old_key_rev:
            # Switching to the certificate-only layout: a key left in etcd would no longer
            # match the certificate, so it goes in the same transaction.
            stale.append(opts.key_key)
        try:
            revision = store.put_atomic(values, expect, stale)
        except ConflictError:
            raise ConflictError(
                f"{opts.cert_key} changed while rotating (another rotator won the race); "
                "nothing was written, retry with --retry"
            ) from None
        for tmp, dest in staged:
            os.replace(tmp, dest)
        staged.clear()
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
    if stale:
        log.warning("removed the stale private key from etcd", key=opts.key_key)
    log.info(
        "published certificate",
        cert_key=opts.cert_key,
        key_key=opts.key_key if opts.publish_key else None,
        revision=revision,
        fingerprint=issued.info.fingerprint_sha256,
        not_after=issued.info.not_after.isoformat(),
        cert_out=str(opts.cert_out) if opts.cert_out else None,
        key_out=str(opts.key_out) if opts.key_out else None,
    )
    return Published(
        revision, issued.info, opts.cert_key, opts.key_key if opts.publish_key else None
    )


def stage_file(dest: Path, data: bytes, mode: int, flag: str) -> Path:
    """Write `data` to a new temp file next to `dest`, created with `mode` from the start.

    O_CREAT|O_EXCL with the final mode means the file is never readable by others, not
    even for a moment (a chmod after writing would leave a window). The caller renames.
    """
    directory = dest.parent
    try:
        fd, tmp = create_beside(dest, mode, ".tmp")
    except FileExistsError:
        raise InstallError(
            f"{flag}: cannot create a temporary file in {directory}", dest=str(dest)
        ) from None
    except OSError as e:
        raise InstallError(
            f"{flag}: cannot create a file in {directory}: {e.strerror}", dest=str(dest)
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InstallError(f"{flag}: cannot write: {e.strerror}", dest=str(dest)) from None
    return tmp


def _read_file(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{flag}: cannot read {path}: {e.strerror}") from None


# -- one rotation, with retries ----------------------------------------------------------------


def rotate(
    store: Store,
    opts: RotateOptions,
    *,
    retry_for: float = 0.0,
    sleep: Callable[[float], None] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Published:
    """Issue and publish once. With `retry_for` > 0, retry conflicts and outages that long.

    A retry after a conflict re-reads the revisions and writes the same fresh keypair:
    the other rotator's pair is replaced by ours as a whole, never half.
    """
    issuer = _with_retries(lambda: load_issuer(store, opts), retry_for, sleep, "load CA")
    issued = issue(opts, issuer, now=now() if now else None)
    return _with_retries(lambda: publish(store, opts, issued), retry_for, sleep, "publish")


def _with_retries(
    fn: Callable[[], _T], retry_for: float, sleep: Callable[[float], None] | None, what: str
) -> _T:
    if retry_for <= 0:
        return fn()

    retry = retrying(
        Backoff(0.1, 5.0, jitter=0.5),
        retry_on=(ConflictError, StoreUnavailableError),
        stop=tenacity.stop_after_delay(retry_for),
        sleep=sleep or time.sleep,
        log=log,
        event=f"{what} failed, retrying",
    )
    return retry(fn)
