"""Go's encoding/json Marshal, for the maintained confd fork's `toJson` and `toPrettyJson`.

Both engines use it: the value is made of Python's None, bool, int, float, str, lists and
dicts (an engine maps its own types first, through `convert`). What Go writes, Go's way:
map keys sorted by their bytes, `<`, `>`, `&`, U+2028 and U+2029 escaped, bytes that are
not UTF-8 as U+FFFD, floats in the shortest form that reads back (exponent form below 1e-6
and from 1e21), NaN and infinities refused. Nesting is bounded (MAX_DEPTH).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from confpy import limits

MAX_DEPTH = limits.MAX_JSON_DEPTH
"""Deepest nesting written (Go has no limit; confpy's JSON reading stops at the same)."""


class MarshalError(ValueError):
    """Go's json.Marshal error: an unsupported type or value, or nesting too deep."""


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def quote(s: str) -> str:
    """A JSON string as Go's encoder writes it (HTML-safe)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif o < 0x20:
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:  # a byte that is not UTF-8 (surrogate escape)
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def number(f: float) -> str:
    """A float64 as Go's encoder writes it."""
    if math.isnan(f) or math.isinf(f):
        raise MarshalError(f"json: unsupported value: {_go_float_name(f)}")
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    if 1e-6 <= abs(f) < 1e21:
        from decimal import Decimal  # here: only a float in JSON needs it, not every start

        text = format(Decimal(repr(f)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    text = repr(f)  # shortest digits, exponent with at least two digits: e-07, e+21
    mantissa, _, exp = text.partition("e")
    sign, digits = exp[0], exp[1:].lstrip("0") or "0"
    return f"{mantissa}e{sign}{digits.zfill(2) if sign == '+' else digits}"


def _go_float_name(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    return "+Inf" if f > 0 else "-Inf"


def marshal(value: Any, convert: Callable[[Any], Any], indent: str = "") -> str:
    """json.Marshal (or MarshalIndent with prefix "" and `indent`) of `value`.

    `convert` turns a value of the engine's own types into None, bool, int, float, str,
    list or dict, or raises MarshalError; it sees every value before it is written."""
    out: list[str] = []
    _write(out, value, convert, indent, 0)
    return "".join(out)


def _write(out: list[str], v: Any, convert: Callable[[Any], Any], indent: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MarshalError(f"json: nested deeper than {MAX_DEPTH} levels")
    v = convert(v)
    if v is None:
        out.append("null")
    elif v is True or v is False:
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(number(v))
    elif isinstance(v, str):
        out.append(quote(v))
    elif isinstance(v, dict):
        keys = sorted(v, key=lambda k: str(k).encode("utf-8", "surrogateescape"))
        items = [(quote(str(k)) + (": " if indent else ":"), v[k]) for k in keys]
        _container(out, "{", "}", items, convert, indent, depth)
    elif isinstance(v, list | tuple):
        _container(out, "[", "]", [("", x) for x in v], convert, indent, depth)
    else:
        raise MarshalError(f"json: unsupported type: {type(v).__name__}")


def _container(
    out: list[str],
    open_: str,
    close: str,
    items: list[tuple[str, Any]],
    convert: Callable[[Any], Any],
    indent: str,
    depth: int,
) -> None:
    out.append(open_)
    if not items:
        out.append(close)
        return
    for i, (label, x) in enumerate(items):
        if i:
            out.append(",")
        if indent:
            out.append("\n" + indent * (depth + 1))
        out.append(label)
        _write(out, x, convert, indent, depth + 1)
    if indent:
        out.append("\n" + indent * depth)
    out.append(close)
