"""The gateway's encoding: base64 bytes, the end of a prefix range, the revisions a reply
carries (read strictly: a reply that lies is an error, not data), a reply header's numbers."""

from __future__ import annotations

import base64
from binascii import Error as Base64Error
from binascii import a2b_base64
from typing import Any

from confpy.store.snapshot import Origin

_MAX_REVISION = 2**63 - 1


def prefix_end(prefix: bytes) -> bytes:
    """The range end that makes a range read or watch cover every key starting with `prefix`."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str | None) -> bytes:
    """Strict: text that is not base64 is a ValueError (lenient decoding drops what it
    cannot read, and a lying reply would become an empty or shortened value)."""
    # binascii directly: base64.b64decode's argument checks cost more than the decoding
    # on a snapshot of thousands of keys.
    if not text:
        return b""
    try:
        return a2b_base64(text, strict_mode=True)
    except Base64Error:
        raise ValueError("etcd's reply holds a key or value that is not base64") from None


def read_revision(value: object) -> int:
    """A revision from a reply: an int64 from 0 as etcd has them, else ValueError."""
    try:
        number = int(str(value), 10)
    except ValueError:
        number = -1
    if not 0 <= number <= _MAX_REVISION:
        raise ValueError(
            f"etcd's reply holds a revision etcd cannot have ({len(str(value))} characters)"
        )
    return number


def origin(header: Any) -> Origin:
    """Which etcd answered, from a reply header."""
    return Origin(header_int(header, "cluster_id"), header_int(header, "raft_term"))


def header_int(header: Any, name: str) -> int:
    """A number from a reply header; 0 when absent or not a number (a reply that lies
    about who sent it must not end a watch or a read)."""
    try:
        return int(header.get(name) or 0) if isinstance(header, dict) else 0
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return 0
