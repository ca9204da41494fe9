"""What one value or fixture file may cost: explicit bounds, checked before the work is done.

A value in etcd is written by whoever may write under a resource's keys. Whatever it
holds, rendering it must stay cheap and must fail that resource alone: these bounds
keep every value-driven cost (JSON depth and size, template recursion, arithmetic,
repetition, output size) well inside what Python itself can survive, instead of hoping
that its recursion limit and the memory allocator hold. Each limit raises `RenderError`
with a message that names the limit, never the value.

A `--data` fixture file (`confpy.store.datafile`) gets the same treatment: its size, its
nesting and the nodes its YAML aliases expand to are bounded before they are walked, so
an alias bomb or a file nested 20,000 levels deep is one `ConfigError`, not a blow-up.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from typing import Any

from confpy.errors import RenderError

MAX_JSON_DEPTH = 100
"""Nesting of arrays and objects a `json`/`jsonArray` value may have (Python's parser
recurses once per level; its own limit is near 1,000 and shared with the template)."""
MAX_JSON_CHARS = 16 * 1024 * 1024
"""Characters a `json`/`jsonArray` value may have (etcd's default request limit is 1.5 MiB)."""
MAX_DATA_BYTES = 8 * 1024 * 1024
"""Bytes a `--data` file may have; only this much is ever read (a fixture of a whole key
space is rarely over a few hundred KiB; YAML this size composes in seconds)."""
MAX_DATA_DEPTH = MAX_JSON_DEPTH
"""Nesting of mappings and lists a `--data` file may have, YAML aliases expanded."""
MAX_DATA_NODES = 250_000
"""Nodes (keys, values, mappings, lists) a YAML `--data` file may have, each alias counting
as the whole node it names: a kilobyte of aliases cannot stand for a billion values.
About 100,000 keys; composing as many costs about 130 MB and a few seconds."""
MAX_CALL_DEPTH = 48
"""Template calls nested in template calls: macros calling macros, `caller()`, `loop()`."""
MAX_OUTPUT_CHARS = 64 * 1024 * 1024
"""Characters one rendered file may have."""
MAX_SEQUENCE = 1_000_000
"""Items `seq` may produce, and characters or items `*` may repeat a string or list to."""
MAX_INT_BITS = 16_384
"""Bits an integer computed with `*` or `**` may have (about 4,900 decimal digits)."""

MAX_INCLUDE_DEPTH = 10
"""Deepest nesting of the fork's `include` (abtreece/confd allows 10)."""


def read_template(path: str | os.PathLike[str]) -> str:
    """A template's text, bounded: a FIFO or /dev/zero is an OSError, not a read without end."""
    raw = read_file_bounded(path, MAX_OUTPUT_CHARS)
    if len(raw) > MAX_OUTPUT_CHARS:
        raise OSError(errno.EFBIG, f"larger than {MAX_OUTPUT_CHARS} bytes")
    return raw.decode("utf-8")


def read_file_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file (more than `limit`: the caller refuses).

    Opened without blocking and refused unless it is a regular file (OSError "not a
    regular file"): a FIFO would hold the read until someone writes to it, and a device
    such as /dev/zero never ends.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return f.read(limit + 1)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', re.DOTALL)


def check_json_text(function: str, data: str) -> None:
    """Refuse a JSON text that is too large or nested too deep, before parsing it."""
    if len(data) > MAX_JSON_CHARS:
        raise RenderError(
            f"{function}: value has {len(data)} characters, more than the limit of {MAX_JSON_CHARS}"
        )
    if json_too_deep(data, MAX_JSON_DEPTH) is not None:
        raise RenderError(f"{function}: value is nested more than {MAX_JSON_DEPTH} levels deep")


def json_too_deep(data: str, limit: int) -> int | None:
    """Where (an index into `data`) JSON text first nests deeper than `limit`, or None.

    A scan of brackets outside strings, without parsing: Python's parser recurses once per
    level, so the text is measured before it is handed over.
    """
    if "[" not in data and "{" not in data:
        return None
    depth = 0
    for m in _JSON_TOKEN.finditer(data):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


def check_sequence(function: str, count: int) -> None:
    if count > MAX_SEQUENCE:
        raise RenderError(f"{function}: {count} items is more than the limit of {MAX_SEQUENCE}")


def bounded_mul(left: Any, right: Any) -> Any:
    """`left * right`, refused when it would repeat a sequence or grow an integer too far."""
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and isinstance(n, int):
            if len(seq) * max(n, 0) > MAX_SEQUENCE:
                raise RenderError(
                    f"`*` would repeat a {len(seq)}-item sequence {n} times, more than "
                    f"the limit of {MAX_SEQUENCE} items"
                )
            return left * right
    if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise RenderError(f"`*` result would have more than {MAX_INT_BITS} bits")
    return left * right


def bounded_pow(base: Any, exponent: Any) -> Any:
    """`base ** exponent`, refused when an integer result would exceed MAX_INT_BITS."""
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        bits = exponent * math.log2(abs(base))
        if bits > MAX_INT_BITS:
            raise RenderError(f"`**` result would have more than {MAX_INT_BITS} bits")
    return base**exponent


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
