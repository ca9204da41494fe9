"""Go's literal syntax as text/template parses it: strconv.Unquote, ParseInt, ParseFloat, and
parse.NewNumber's every kind a number literal can be."""

from __future__ import annotations

import math
import re

from confpy.gotemplate.goitems import CHARCONST, COMPLEX
from confpy.gotemplate.gonodes import NumberNode
from confpy.gotemplate.values import from_bytes

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote(s: str) -> str:
    """strconv.Unquote for the three quote kinds; raw bytes come back surrogate-escaped."""
    if len(s) < 2 or s[0] != s[-1]:
        raise ValueError("invalid syntax")
    q = s[0]
    body = s[1:-1]
    if q == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if q not in "\"'":
        raise ValueError("invalid syntax")
    if "\n" in body:
        raise ValueError("invalid syntax")
    out = bytearray()
    i = 0
    n = 0
    while i < len(body):
        c = body[i]
        if c == q and q == '"':
            raise ValueError("invalid syntax")
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            n += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        i = _unescape(body, i, q, out)
        n += 1
    text = from_bytes(bytes(out))
    if q == "'" and (n != 1):
        raise ValueError(f"malformed character constant: {s}")
    return text


def _unescape(body: str, i: int, q: str, out: bytearray) -> int:
    """Append the escape after the backslash at `body[i - 1]` to `out`; the index after it."""
    e = body[i]
    i += 1
    if e in _SIMPLE:
        out += _SIMPLE[e].encode()
    elif e == q:
        out += e.encode()
    elif e in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[e]
        h = body[i : i + width]
        if len(h) != width or not all(ch in "0123456789abcdefABCDEF" for ch in h):
            raise ValueError("invalid syntax")
        v = int(h, 16)
        i += width
        if e == "x":
            if q == "'":
                out += chr(v).encode()
            else:
                out.append(v)
        else:
            if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise ValueError("invalid syntax")
            out += chr(v).encode()
    elif e in "01234567":
        o = body[i - 1 : i + 2]
        if len(o) != 3 or not all(ch in "01234567" for ch in o):
            raise ValueError("invalid syntax")
        v = int(o, 8)
        if v > 255:
            raise ValueError("invalid syntax")
        i += 2
        if q == "'":
            out += chr(v).encode()
        else:
            out.append(v)
    else:
        raise ValueError("invalid syntax")
    return i


_INT_RE = re.compile(
    r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)\Z"
)
_FLOAT_RE = re.compile(
    r"[+-]?(([0-9](_?[0-9])*(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?"
    r"|0[xX](_?[0-9a-fA-F])*(\.([0-9a-fA-F](_?[0-9a-fA-F])*)?)?[pP][+-]?[0-9](_?[0-9])*"
    r"|0[xX]\.[0-9a-fA-F](_?[0-9a-fA-F])*[pP][+-]?[0-9](_?[0-9])*"
    r"|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])\Z"
)


def parse_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64) (ValueError on bad syntax or range)."""
    if not _INT_RE.match(text):
        raise ValueError("syntax")
    t = text.replace("_", "")
    neg = t.startswith("-")
    t = t.lstrip("+-")
    octal = len(t) > 1 and t[0] == "0" and t[1] not in "xXbBoO"
    v = int(t, 8) if octal else int(t, 0)
    return -v if neg else v


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64)."""
    if not _FLOAT_RE.match(text):
        raise ValueError("syntax")
    t = text.replace("_", "")
    low = t.lower().lstrip("+-")
    neg = t.startswith("-")
    v = float.fromhex(("-" if neg else "") + low) if low.startswith("0x") else float(t)
    if math.isinf(v) and "inf" not in low:
        raise ValueError("range")
    return v


def new_number(pos: int, line: int, text: str, typ: str) -> NumberNode:
    """parse.NewNumber: every kind (int, uint, float, complex) the literal can stand for."""
    n = NumberNode(pos, line, text)
    if typ == CHARCONST:
        r = unquote(text)
        n.int64 = n.uint64 = ord(r) if len(r) == 1 else 0xFFFD
        n.float64 = float(n.int64)
        n.is_int = n.is_uint = n.is_float = True
        return n
    if typ == COMPLEX:
        _set_complex(n, text)
        return n
    if text.endswith("i") and _set_imaginary(n, text):
        return n
    _set_integers(n, text)
    if n.is_int:
        n.is_float = True
        n.float64 = float(n.int64)
    elif n.is_uint:
        n.is_float = True
        n.float64 = float(n.uint64)
    else:
        _set_float(n, text)
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {text!r}")
    return n


def _set_complex(n: NumberNode, text: str) -> None:
    m = re.match(r"(.*?[0-9.])([+-].*)i\Z", text)
    if not m:
        raise ValueError(f"illegal number syntax: {text!r}")
    try:
        n.complex128 = complex(parse_float(m.group(1)), parse_float(m.group(2)))
    except ValueError:
        raise ValueError(f"illegal number syntax: {text!r}") from None
    n.is_complex = True
    _simplify_complex(n)


def _set_imaginary(n: NumberNode, text: str) -> bool:
    """`2i`: True when `text` is a float followed by i."""
    try:
        imag = parse_float(text[:-1])
    except ValueError:
        return False
    n.is_complex = True
    n.complex128 = complex(0, imag)
    _simplify_complex(n)
    return True


def _set_integers(n: NumberNode, text: str) -> None:
    """The uint64 and int64 the literal fits, if any."""
    try:
        u = parse_int(text)
        if 0 <= u < 1 << 64 and not text.startswith("-"):
            n.is_uint = True
            n.uint64 = u
    except ValueError:
        pass
    try:
        i = parse_int(text)
        if -(1 << 63) <= i < 1 << 63:
            n.is_int = True
            n.int64 = i
            if i == 0:
                n.is_uint = True
                n.uint64 = 0
    except ValueError:
        pass


def _set_float(n: NumberNode, text: str) -> None:
    """A literal that is no integer: a float, and the integers it equals exactly."""
    try:
        f = parse_float(text)
    except ValueError:
        return
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {text!r}")
    n.is_float = True
    n.float64 = f
    if math.isfinite(f) and f == int(f):
        iv = int(f)
        if -(1 << 63) <= iv < 1 << 63:
            n.is_int = True
            n.int64 = iv
        if 0 <= iv < 1 << 64:
            n.is_uint = True
            n.uint64 = iv


def _simplify_complex(n: NumberNode) -> None:
    if n.complex128.imag == 0:
        n.is_float = True
        n.float64 = n.complex128.real
        f = n.float64
        if math.isfinite(f) and f == int(f):
            n.is_int = True
            n.int64 = int(f)
            if f >= 0:
                n.is_uint = True
                n.uint64 = int(f)
