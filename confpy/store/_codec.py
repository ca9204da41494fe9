"""The gateway's encoding: base64 bytes, the end of a prefix range, a reply header's numbers."""

from __future__ import annotations

import base64
from binascii import a2b_base64
from typing import Any

from confpy.snapshot import Origin


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
    # binascii directly: base64.b64decode's argument checks cost more than the decoding
    # on a snapshot of thousands of keys.
    return a2b_base64(text) if text else b""


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
