"""What a certificate may name, and for how long: `--san`, `--cn` and `--days`, checked
before any key is generated (pure; each refusal is a one-line ConfigError naming the flag).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from urllib.parse import urlsplit

from cryptography import x509

from confpy.errors import ConfigError


def parse_san(text: str) -> x509.GeneralName:
    """`DNS:name`, `IP:addr`, `URI:scheme:...`, `email:user@host`, or a bare address or name.

    A bare value is an IP address when it parses as one (a bare IPv6 address has colons
    too), else a DNS name. Any other `TYPE:` is refused rather than published as a name.
    """
    kind, sep, value = text.partition(":")
    kind_up = kind.strip().upper()
    if sep and kind_up in ("IP", "DNS", "URI", "EMAIL"):
        value = value.strip()
    else:
        try:
            return x509.IPAddress(ipaddress.ip_address(text.strip()))
        except ValueError:
            pass
        if sep:
            raise ConfigError(
                f"--san: unknown type {kind.strip()!r} in {text!r} "
                "(use DNS:NAME, IP:ADDRESS, URI:URI or email:ADDRESS)"
            )
        kind_up, value = "DNS", text.strip()
    if not value:
        raise ConfigError(f"--san: empty value in {text!r} (use {kind_up}:VALUE)")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ConfigError(f"--san: {text!r} contains blanks or control characters")
    if kind_up == "IP":
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            raise ConfigError(f"--san: not an IP address: {value!r}") from None
    if kind_up == "URI":
        parts = urlsplit(value)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "") or not (
            parts.netloc or parts.path
        ):
            raise ConfigError(f"--san: not an absolute URI: {value!r} (e.g. URI:spiffe://x/y)")
        return x509.UniformResourceIdentifier(value)
    if kind_up == "EMAIL":
        local, at, domain = value.rpartition("@")
        if not at or not local or not _DNS_NAME.fullmatch(domain):
            raise ConfigError(f"--san: not an email address: {value!r}")
        return x509.RFC822Name(value)
    if not _DNS_NAME.fullmatch(value.removeprefix("*.")):
        raise ConfigError(f"--san: not a DNS name: {value!r}")
    return x509.DNSName(value)


_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)

MAX_COMMON_NAME = 64
"""RFC 5280's upper bound for a common name; longer ones cannot be encoded."""
MIN_VALIDITY = dt.timedelta(seconds=5)
"""Shorter certificates would expire before a consumer could load them."""
MAX_VALIDITY_DAYS = 36500
"""A hundred years: anything longer is a mistake, not a policy."""


def check_common_name(common_name: str) -> None:
    if not common_name.strip():
        raise ConfigError("--cn: the common name must not be empty")
    if len(common_name) > MAX_COMMON_NAME:
        raise ConfigError(
            f"--cn: {len(common_name)} characters is longer than X.509 allows "
            f"({MAX_COMMON_NAME}); put long names in --san DNS:..."
        )
    if not common_name.isprintable():
        raise ConfigError("--cn: the common name contains control characters")


def check_validity(days: float) -> dt.timedelta:
    """The validity `--days` asks for; refused when not finite, already over, or absurd."""
    if not isinstance(days, int | float) or not math.isfinite(days) or days <= 0:
        raise ConfigError(f"--days: must be a positive number of days, got {days!r}")
    if days > MAX_VALIDITY_DAYS:
        raise ConfigError(
            f"--days: {days:g} days is more than {MAX_VALIDITY_DAYS} (a hundred years)"
        )
    validity = dt.timedelta(days=days)
    if validity < MIN_VALIDITY:
        raise ConfigError(
            f"--days: {days:g} days is {validity.total_seconds():.3g} s: the certificate would "
            f"expire before anyone could use it (at least {MIN_VALIDITY.total_seconds():g} s)"
        )
    return validity
