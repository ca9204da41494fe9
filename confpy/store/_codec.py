"""The gateway's encoding of keys and ranges: base64 bytes, and the end of a prefix range."""

from __future__ import annotations

import base64
from binascii import a2b_base64


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
