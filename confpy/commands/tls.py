"""`confpy tls rotate|show`: publish a fresh TLS keypair in etcd, and inspect what is published."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from confpy.commands._common import (
    USAGE,
    connection_flags,
    duration_flag,
    exit_codes,
    settings_from,
)
from confpy.errors import EXIT_FAILED, EXIT_OK, ConfigError

# Kept in sync with confpy.tls.keypairs.KEY_TYPES; importing it here would load cryptography.
KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384", "ed25519")

DESCRIPTION = """\
Manage a TLS keypair that services share through etcd, as Logstash did with
`openssl req -x509 ... && curl -XPUT` at boot.

  rotate  generate a fresh key and certificate and publish them under PREFIX in one
          etcd transaction; self-signed unless a CA signs it
  show    print what is published under PREFIX and check it (exit 1 when not usable)

Keys (relative to PREFIX unless they start with /; the global CONFPY_PREFIX is joined
in front):
  PREFIX/ssl_certificate   the certificate PEM; when a CA signed it, the full chain:
                           leaf first, then the CA certificate(s)
  PREFIX/ssl_private_key   the private key PEM (PKCS#8), unless --no-publish-key
See docs/tls.md for the shared-key and certificate-only layouts.
"""

ROTATE_DESCRIPTION = """\
Generate a private key and an X.509 certificate for it (TLS server and client use,
CA:false), and write certificate and key into etcd in ONE transaction that compares the
certificate key's previous revision: two rotators racing on one PREFIX never leave a
mismatched pair; the loser fails with exit 3 (or tries again with --retry).

The private key never appears in logs, errors or process arguments. With
--no-publish-key it never leaves this host: only the certificate goes to etcd and the key
goes to --key-out, a file created with mode 0600.

examples:
  confpy tls rotate --prefix /logstash --cn logstash --san IP:10.0.0.7 \\
      --san DNS:logstash.internal --days 30
  confpy tls rotate --prefix /logstash --cn logstash --no-publish-key \\
      --key-out /etc/logstash/tls.key --cert-out /etc/logstash/tls.crt --every 1h
  confpy tls rotate --prefix /app --cn app --ca-prefix /pki/ca
"""

ROTATE_EXIT_CODES = exit_codes(
    ("0", "published (with --every: stopped by SIGTERM or SIGINT)"),
    ("1", "--cert-out or --key-out could not be written"),
    USAGE,
    (
        "3",
        "etcd unreachable or failing, another rotator won the race (without --retry, or "
        "--retry-for ran out), or no CA under --ca-prefix",
    ),
)

SHOW_EXIT_CODES = exit_codes(
    ("0", "the published certificate is usable"),
    (
        "1",
        "it expired or is not yet valid, its chain does not verify, or the private key is "
        "missing (unless --cert-only) or does not match",
    ),
    (
        "2",
        "usage error, or a certificate or key that does not parse, or etcd refused the "
        "login or the user's permissions",
    ),
    ("3", "etcd unreachable or failing, or no certificate published under PREFIX"),
)

SHOW_DESCRIPTION = """\
Print the certificate published under PREFIX: subject, SANs, issuer, validity, SHA-256
fingerprint, and whether the published private key matches it.

Exit 1 when the certificate has expired or is not yet valid, when a CA-signed chain does
not verify, when the key does not match, or when the key is missing although expected
(use --cert-only for the certificate-only layout, --local-key to check a key file).
"""


def _tls_parser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[connection_flags()],
        # Our --prefix (where the keypair lives) replaces the global key-prefix flag;
        # the global prefix still comes from CONFPY_PREFIX or confpy.toml.
        conflict_handler="resolve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    p.add_argument(
        "--prefix",
        dest="tls_prefix",
        required=True,
        metavar="KEY",
        help="etcd key under which the keypair lives, e.g. /logstash",
    )
    p.add_argument(
        "--cert-key",
        default="ssl_certificate",
        metavar="NAME",
        help="key of the certificate (default ssl_certificate)",
    )
    p.add_argument(
        "--key-key",
        default="ssl_private_key",
        metavar="NAME",
        help="key of the private key (default ssl_private_key)",
    )
    return p


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "tls",
        help="rotate or show a TLS keypair published in etcd",
        description=DESCRIPTION,
        epilog="exit codes: see 'confpy tls rotate --help' and 'confpy tls show --help'\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="tls_command", metavar="ACTION", required=True)

    r = _tls_parser(
        sub,
        "rotate",
        help="generate and publish a fresh keypair",
        description=ROTATE_DESCRIPTION,
        epilog=ROTATE_EXIT_CODES,
    )
    c = r.add_argument_group("certificate")
    c.add_argument("--cn", required=True, help="subject common name, e.g. logstash")
    c.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="IP:ADDR|DNS:NAME",
        help="subject alternative name, repeatable (default: the CN); clients "
        "check hostnames against these, not the CN",
    )
    c.add_argument(
        "--days", type=float, default=30.0, help="validity in days (default 30; fractions allowed)"
    )
    c.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        default="rsa2048",
        help="private key algorithm (default rsa2048)",
    )
    ca = r.add_argument_group("signing (default: self-signed)")
    ca.add_argument("--ca-cert", metavar="FILE", help="CA certificate (PEM) that signs the leaf")
    ca.add_argument("--ca-key", metavar="FILE", help="the CA's private key (PEM, unencrypted)")
    ca.add_argument(
        "--ca-prefix",
        metavar="KEY",
        help="take the CA from KEY/ssl_certificate and KEY/ssl_private_key in etcd",
    )
    out = r.add_argument_group("outputs")
    out.add_argument(
        "--no-publish-key",
        dest="publish_key",
        action="store_false",
        help="publish only the certificate; the key stays in --key-out "
        "(recommended; removes a key left in etcd by the shared layout)",
    )
    out.add_argument(
        "--cert-out", metavar="FILE", help="also write the certificate (chain) to FILE, mode 0644"
    )
    out.add_argument(
        "--key-out",
        metavar="FILE",
        help="also write the private key to FILE, created with mode 0600",
    )
    run_g = r.add_argument_group("running")
    run_g.add_argument(
        "--retry",
        action="store_true",
        help="when another rotator wins the race or etcd is unreachable, retry "
        "with exponential backoff (for --retry-for) instead of exiting 3",
    )
    duration_flag(
        run_g,
        "--retry-for",
        default=60.0,
        help="how long --retry keeps trying (default 60s)",
    )
    duration_flag(
        run_g,
        "--every",
        help="keep running: check the published certificate every DURATION and "
        "rotate before it expires; SIGTERM/SIGINT stop cleanly",
    )
    duration_flag(
        run_g,
        "--renew-before",
        help="with --every: rotate when the certificate expires within DURATION "
        "(default a third of --days)",
    )
    r.set_defaults(func=run_rotate)

    s = _tls_parser(
        sub,
        "show",
        help="print and check the published keypair",
        description=SHOW_DESCRIPTION,
        epilog=SHOW_EXIT_CODES,
    )
    s.add_argument(
        "--cert-only",
        action="store_true",
        help="the certificate-only layout: do not expect a private key in etcd",
    )
    s.add_argument(
        "--local-key",
        metavar="FILE",
        help="check this private key file against the certificate as well",
    )
    s.set_defaults(func=run_show)


def _setup(args: argparse.Namespace) -> tuple[Any, str]:
    from confpy import log
    from confpy.config.keys import normalize_prefix

    settings = settings_from(args)
    log.configure(settings.log_level, settings.log_format)
    prefix = normalize_prefix(args.tls_prefix)
    if not prefix:
        raise ConfigError("--prefix: give the key under which the keypair lives, e.g. /logstash")
    return settings, settings.prefix + prefix


def run_rotate(args: argparse.Namespace) -> int:
    import signal
    import threading
    from pathlib import Path

    from confpy.config.keys import normalize_prefix, resolve_key
    from confpy.store import EtcdStore
    from confpy.tls.every import run_every
    from confpy.tls.rotate import RotateOptions, rotate
    from confpy.wakeup import Wakeup
    from confpy.workers import Worker

    settings, prefix = _setup(args)
    ca_prefix = None
    if args.ca_prefix:
        # `--ca-prefix /` is the root below the global prefix (its keys are `/ssl_...`).
        ca_prefix = settings.prefix + (normalize_prefix(args.ca_prefix) or "/")
    opts = RotateOptions(
        prefix=prefix,
        common_name=args.cn,
        sans=tuple(args.san),
        days=args.days,
        key_type=args.key_type,
        cert_key=resolve_key(prefix, args.cert_key),
        key_key=resolve_key(prefix, args.key_key),
        publish_key=args.publish_key,
        cert_out=Path(args.cert_out) if args.cert_out else None,
        key_out=Path(args.key_out) if args.key_out else None,
        ca_cert_file=Path(args.ca_cert) if args.ca_cert else None,
        ca_key_file=Path(args.ca_key) if args.ca_key else None,
        ca_prefix=ca_prefix,
    )
    opts.validate()
    validity = args.days * 86400
    if args.renew_before is not None and args.every is None:
        raise ConfigError("--renew-before only makes sense with --every")
    renew_before = args.renew_before if args.renew_before is not None else validity / 3
    if args.every is not None:
        if args.every <= 0:
            raise ConfigError("--every: must be a positive duration")
        if renew_before >= validity:
            raise ConfigError("--renew-before must be shorter than the validity (--days)")

    store = EtcdStore(settings)
    try:
        if args.every is None:
            published = rotate(store, opts, retry_for=args.retry_for if args.retry else 0.0)
            _print_published(published)
            return EXIT_OK
        # The loop runs in a worker so that the main thread can sleep on a Wakeup, which a
        # SIGTERM delivered to any thread wakes at once; what ends the worker is raised here.
        stop = threading.Event()

        def loop() -> None:
            run_every(store, opts, every=args.every, renew_before=renew_before, stop=stop)

        with Wakeup((signal.SIGTERM, signal.SIGINT)) as wakeup:
            rotator = Worker("confpy-rotate", loop, on_death=wakeup.wake).start()
            try:
                while not rotator.done.is_set() and not wakeup.wait(None):
                    pass
            finally:
                stop.set()
                rotator.join()
        rotator.check()
        return EXIT_OK
    finally:
        store.close()


def _print_published(published: Any) -> None:
    info = published.info
    print(
        f"published {published.cert_key}"
        + (f" and {published.key_key}" if published.key_key else "")
        + f" at revision {published.revision}"
    )
    print(f"fingerprint  SHA256 {info.fingerprint_sha256}")
    print(f"not after    {info.not_after.isoformat()}")


def run_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from confpy.config.keys import resolve_key
    from confpy.errors import KeysMissingError
    from confpy.log import escape
    from confpy.store import EtcdStore
    from confpy.tls.show import Published, examine

    settings, prefix = _setup(args)
    cert_key = resolve_key(prefix, args.cert_key)
    key_key = resolve_key(prefix, args.key_key)
    store = EtcdStore(settings)
    try:
        cert_pem, cert_rev = store.get(cert_key)
        key_pem, key_rev = store.get(key_key)
    finally:
        store.close()
    if cert_pem is None:
        raise KeysMissingError([cert_key])

    published = Published(cert_key, cert_pem, cert_rev, key_key, key_pem, key_rev)
    local = Path(args.local_key) if args.local_key else None
    found = examine(published, cert_only=args.cert_only, local_key=local)
    lines, problems = found.lines, found.problems
    lines.append(("status", "OK" if not problems else "FAILED"))
    width = max(len(k) for k, _ in lines) + 2
    for k, v in lines:  # escaped: a certificate's names come from etcd, and may hold ESC
        print(f"{k + ':':<{width}}{escape(v)}")
    for p in problems:
        print(f"confpy: {escape(p)}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK
