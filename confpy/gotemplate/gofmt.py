"""Go's fmt package for the values a template holds: Sprint, Sprintln and Sprintf.

Follows fmt's print.go and format.go: flags, width and precision apply to each element
of a slice or map; `%!verb(type=value)` marks a bad verb; `%!(EXTRA ...)`, `[n]`
argument indexes, `*` widths. Floats use strconv's shortest formatting.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from confpy.gotemplate.values import (
    NULL,
    KVPair,
    Slice,
    Uint8,
    go_bytes,
    go_str_less_key,
    type_name,
)

_MAX_RUNE = 0x10FFFF


class _Flags:
    __slots__ = (
        "minus",
        "plus",
        "plus_v",
        "prec",
        "prec_present",
        "sharp",
        "sharp_v",
        "space",
        "wid",
        "wid_present",
        "zero",
    )

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.sharp = self.zero = self.plus = self.minus = self.space = False
        self.sharp_v = self.plus_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False


class _Printer:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.f = _Flags()
        self.erroring = False

    def out(self) -> str:
        return "".join(self.buf)

    # Padding.

    def padding(self, n: int) -> str:
        if n <= 0:
            return ""
        return ("0" if self.f.zero else " ") * n

    def pad(self, s: str) -> None:
        f = self.f
        if not f.wid_present or f.wid == 0:
            self.buf.append(s)
            return
        width = f.wid - _rune_count(s)
        if not f.minus:
            self.buf.append(self.padding(width) + s)
        else:
            self.buf.append(s + self.padding(width))

    # Printing one argument.

    def print_arg(self, arg: Any, verb: str, depth: int = 0) -> None:
        if arg is None or (arg is NULL and depth == 0):
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self.fmt_s(type_name(arg))
            return
        if verb == "p":
            self.bad_verb(verb, arg)
            return
        self.print_value(arg, verb, depth)

    def print_value(self, v: Any, verb: str, depth: int) -> None:
        f = self.f
        if v is NULL or v is None:
            if f.sharp_v:
                self.buf.append("interface {}(nil)")
            else:
                self.buf.append("<nil>")
            return
        if isinstance(v, datetime) and verb in "vsxXq" and not self.erroring:
            from confpy.gotemplate.builtins import _time_string as time_string

            self.fmt_string(time_string(v), verb)
            return
        if isinstance(v, bool):
            if verb in "tv":
                self.pad("true" if v else "false")
            else:
                self.bad_verb(verb, v)
        elif isinstance(v, int):
            self.fmt_integer(v, verb, unsigned=isinstance(v, Uint8), arg=v)
        elif isinstance(v, float):
            self.fmt_float_verb(v, verb)
        elif isinstance(v, complex):
            self.fmt_complex(v, verb)
        elif isinstance(v, str):
            self.fmt_string(v, verb)
        elif isinstance(v, dict):
            self.print_map(v, verb, depth)
        elif isinstance(v, list):
            self.print_slice(v, verb, depth)
        elif isinstance(v, KVPair):
            self.print_kvpair(v, verb, depth)
        else:
            self.buf.append(str(v))

    def print_map(self, v: dict[Any, Any], verb: str, depth: int) -> None:
        f = self.f
        if f.sharp_v:
            self.buf.append("map[string]interface {}{")
        else:
            self.buf.append("map[")
        for i, k in enumerate(sorted(v, key=go_str_less_key)):
            if i:
                self.buf.append(", " if f.sharp_v else " ")
            self.print_value(k, verb, depth + 1)
            self.buf.append(":")
            self.print_value(v[k], verb, depth + 1)
        self.buf.append("}" if f.sharp_v else "]")

    def print_slice(self, v: list[Any], verb: str, depth: int) -> None:
        gotype = v.gotype if isinstance(v, Slice) else "[]interface {}"
        if self.f.sharp_v:
            self.buf.append(gotype + "{")
            for i, x in enumerate(v):
                if i:
                    self.buf.append(", ")
                self.print_value(x, verb, depth + 1)
            self.buf.append("}")
        else:
            self.buf.append("[")
            for i, x in enumerate(v):
                if i:
                    self.buf.append(" ")
                self.print_value(x, verb, depth + 1)
            self.buf.append("]")

    def print_kvpair(self, v: KVPair, verb: str, depth: int) -> None:
        f = self.f
        if f.sharp_v:
            self.buf.append("memkv.KVPair")
        self.buf.append("{")
        for i, (name, x) in enumerate((("Key", v.Key), ("Value", v.Value))):
            if i:
                self.buf.append(", " if f.sharp_v else " ")
            if f.plus_v or f.sharp_v:
                self.buf.append(name + ":")
            self.print_value(x, verb, depth + 1)
        self.buf.append("}")

    def bad_verb(self, verb: str, arg: Any) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if arg is None or arg is NULL:
            self.buf.append("<nil>")
        else:
            self.buf.append(type_name(arg) + "=")
            self.print_arg(arg, "v")
        self.buf.append(")")
        self.erroring = False

    # Strings.

    def truncate(self, s: str) -> str:
        if self.f.prec_present and _rune_count(s) > self.f.prec:
            return _rune_prefix(s, self.f.prec)
        return s

    def fmt_s(self, s: str) -> None:
        self.pad(self.truncate(s))

    def fmt_string(self, s: str, verb: str) -> None:
        if verb == "v":
            if self.f.sharp_v:
                self.fmt_q(s)
            else:
                self.fmt_s(s)
        elif verb == "s":
            self.fmt_s(s)
        elif verb in "xX":
            self.fmt_sx(go_bytes(s), verb)
        elif verb == "q":
            self.fmt_q(s)
        else:
            self.bad_verb(verb, s)

    def fmt_sx(self, b: bytes, verb: str) -> None:
        f = self.f
        digits = "0123456789abcdefx" if verb == "x" else "0123456789ABCDEFX"
        length = len(b)
        if f.prec_present and f.prec < length:
            length = f.prec
        width = 2 * length
        if width > 0:
            if f.space:
                if f.sharp:
                    width *= 2
                width += length - 1
            elif f.sharp:
                width += 2
        else:
            if f.wid_present:
                self.buf.append(self.padding(f.wid))
            return
        if f.wid_present and f.wid > width and not f.minus:
            self.buf.append(self.padding(f.wid - width))
        out: list[str] = []
        if f.sharp:
            out.append("0" + digits[16])
        for i in range(length):
            if f.space and i > 0:
                out.append(" ")
                if f.sharp:
                    out.append("0" + digits[16])
            c = b[i]
            out.append(digits[c >> 4] + digits[c & 0xF])
        self.buf.append("".join(out))
        if f.wid_present and f.wid > width and f.minus:
            self.buf.append(self.padding(f.wid - width))

    def fmt_q(self, s: str) -> None:
        s = self.truncate(s)
        if self.f.sharp and _can_backquote(s):
            self.pad("`" + s + "`")
            return
        self.pad(quote(s, ascii_only=self.f.plus))

    # Integers.

    def fmt_integer(self, v: int, verb: str, *, unsigned: bool, arg: Any) -> None:
        if verb == "v" and self.f.sharp_v and unsigned:
            old_sharp = self.f.sharp
            self.f.sharp = True
            self.fmt_int(v, 16, verb, "0123456789abcdefx")
            self.f.sharp = old_sharp
        elif verb in "vd":
            self.fmt_int(v, 10, verb, "0123456789abcdefx")
        elif verb == "b":
            self.fmt_int(v, 2, verb, "0123456789abcdefx")
        elif verb in "oO":
            self.fmt_int(v, 8, verb, "0123456789abcdefx")
        elif verb == "x":
            self.fmt_int(v, 16, verb, "0123456789abcdefx")
        elif verb == "X":
            self.fmt_int(v, 16, verb, "0123456789ABCDEFX")
        elif verb == "c":
            self.pad(_rune_str(v))
        elif verb == "q":
            r = v if 0 <= v <= _MAX_RUNE else 0xFFFD
            if self.f.sharp and r != 0x60 and _can_backquote(_rune_str(r)):
                self.pad("'" + _rune_str(r) + "'")
            else:
                self.pad(quote_rune(r, ascii_only=self.f.plus))
        elif verb == "U":
            self.fmt_unicode(v)
        else:
            self.bad_verb(verb, arg)

    def fmt_int(self, v: int, base: int, verb: str, digits: str) -> None:
        f = self.f
        negative = v < 0
        u = -v if negative else v
        if negative and u >= 1 << 63:
            u = 1 << 63
        prec = 0
        if f.prec_present:
            prec = f.prec
            if prec == 0 and u == 0:
                old = f.zero
                f.zero = False
                self.buf.append(self.padding(f.wid))
                f.zero = old
                return
        elif f.zero and f.wid_present:
            prec = f.wid
            if negative or f.plus or f.space:
                prec -= 1
        body = _digits(u, base, digits)
        if len(body) < prec:
            body = "0" * (prec - len(body)) + body
        if f.sharp:
            body = _sharp_int(body, base, digits)
        if verb == "O":
            body = "0o" + body
        if negative:
            body = "-" + body
        elif f.plus:
            body = "+" + body
        elif f.space:
            body = " " + body
        old = f.zero
        f.zero = False
        self.pad(body)
        f.zero = old

    def fmt_unicode(self, u: int) -> None:
        f = self.f
        if u < 0:
            u += 1 << 64
        body = f"{u:X}"
        prec = 4
        if f.prec_present and f.prec > 4:
            prec = f.prec
        body = "U+" + body.rjust(prec, "0")
        if f.sharp and 0 <= u <= _MAX_RUNE and _is_print(chr(u)) and not 0xD800 <= u <= 0xDFFF:
            body += " '" + chr(u) + "'"
        old = f.zero
        f.zero = False
        self.pad(body)
        f.zero = old

    # Floats.

    def fmt_float_verb(self, v: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float(v, "g", -1)
        elif verb in "bgGxX":
            self.fmt_float(v, verb, -1)
        elif verb in "feEF":
            self.fmt_float(v, verb, 6)
        else:
            self.bad_verb(verb, v)

    def fmt_float(self, v: float, verb: str, prec: int) -> None:
        f = self.f
        if f.prec_present:
            prec = f.prec
        num = format_float(v, verb, prec)
        num = num if num[0] in "+-" else "+" + num
        if f.space and num[0] == "+" and not f.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old = f.zero
            f.zero = False
            if num[1] == "N" and not f.space and not f.plus:
                num = num[1:]
            self.pad(num)
            f.zero = old
            return
        if f.sharp and verb != "b":
            num = _sharp_float(num, verb, prec)
        if f.plus or num[0] != "+":
            if f.zero and f.wid_present and f.wid > len(num):
                self.buf.append(num[0] + self.padding(f.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, v)
            return
        old_plus = self.f.plus
        self.buf.append("(")
        self.fmt_float_verb(v.real, verb)
        self.f.plus = True
        self.fmt_float_verb(v.imag, verb)
        self.buf.append("i)")
        self.f.plus = old_plus


def _digits(u: int, base: int, digits: str) -> str:
    """`u` (>= 0) written in `base` with the digit characters `digits`."""
    if u == 0:
        return "0"
    chars = []
    while u:
        chars.append(digits[u % base])
        u //= base
    return "".join(reversed(chars))


def _sharp_int(body: str, base: int, digits: str) -> str:
    """`%#b`, `%#o`, `%#x`: the base's prefix (`digits[16]` is x or X)."""
    if base == 2:
        return "0b" + body
    if base == 8:
        return body if body[0] == "0" else "0" + body
    if base == 16:
        return "0" + digits[16] + body
    return body


def _sharp_float(num: str, verb: str, prec: int) -> str:
    """`%#g` and friends: keep the decimal point, and %g's trailing zeros (signed `num`)."""
    digits = 0
    if verb in "vgGxX":
        digits = prec if prec != -1 else 6
    has_point = False
    saw_nonzero = False
    i = 1
    chars = list(num)
    cut = len(chars)
    while i < len(chars):
        c = chars[i]
        if c == ".":
            has_point = True
        elif c in "pP" or (c in "eE" and verb not in "xX"):
            cut = i
            break
        else:
            if c != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
        i += 1
    head, tail = num[:cut], num[cut:]
    if not has_point:
        if len(head) == 2 and head[1] == "0":
            digits -= 1
        head += "."
    if digits > 0:
        head += "0" * digits
    return head + tail


# strconv.FormatFloat.


def format_float(v: float, verb: str, prec: int) -> str:
    """strconv.FormatFloat(v, verb, prec, 64)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = math.copysign(1.0, v) < 0
    sign = "-" if neg else ""
    a = abs(v)
    if verb in "xX":
        return sign + _hex_float(a, prec, verb)
    if verb == "b":
        fraction, exp2 = math.frexp(a)
        mant = int(fraction * (1 << 53))
        exp = exp2 - 53
        if a == 0:
            mant, exp = 0, -1074
        return f"{sign}{mant}p{'+' if exp >= 0 else '-'}{abs(exp)}"
    if prec < 0:
        digits, point = _shortest(a)
        if verb in "eE":
            return sign + _e_form(digits, point, len(digits) - 1, verb)
        if verb in "fF":
            return sign + _f_form(digits, point, max(len(digits) - point, 0))
        # g, shortest: strconv switches to %e below 1e-4 and from 1e21 up (eprec 21)...
        # ...but with the shortest precision it decides with eprec = 6.
        exp = point - 1
        if exp < -4 or exp >= 6:
            return sign + _e_form(digits, point, len(digits) - 1, "e" if verb == "g" else "E")
        return sign + _f_form(digits, point, max(len(digits) - point, 0))
    if verb in "eE":
        digits, point = _rounded(a, prec + 1, fixed=False)
        return sign + _e_form(digits, point, prec, verb)
    if verb in "fF":
        digits, point = _rounded(a, prec, fixed=True)
        return sign + _f_form(digits, point, prec)
    # g with precision: strconv rounds to p digits, drops trailing zeros, then picks %e or %f.
    p = prec if prec != 0 else 1
    if a == 0:
        return sign + "0"
    digits, point = _rounded(a, p, fixed=False)
    digits = digits.rstrip("0") or "0"
    nd = len(digits)
    eprec = p
    if eprec > nd and nd >= point:
        eprec = nd
    exp = point - 1
    e = "e" if verb == "g" else "E"
    if exp < -4 or exp >= eprec:
        return sign + _e_form(digits, point, min(p, nd) - 1, e)
    return sign + _f_form(digits, point, max((nd if p > point else p) - point, 0))


def _shortest(a: float) -> tuple[str, int]:
    if a == 0:
        return "0", 1
    d = Decimal(repr(a))
    t = d.as_tuple()
    ds = "".join(map(str, t.digits)).lstrip("0") or "0"
    exp = t.exponent
    assert isinstance(exp, int)
    point = len("".join(map(str, t.digits))) + exp
    # Leading zeros stripped shift nothing in the point (they were before the first digit).
    lead = len("".join(map(str, t.digits))) - len("".join(map(str, t.digits)).lstrip("0"))
    point -= lead
    ds = ds.rstrip("0") or "0"
    return ds, point


def _rounded(a: float, n: int, *, fixed: bool) -> tuple[str, int]:
    """Digits of `a` rounded half-even on its exact value: n significant, or n after the point."""
    if a == 0:
        return ("0" * max(n, 1) if not fixed else "0" * (n + 1)), 1
    d = Decimal(a)  # exact binary value
    adj = d.adjusted()
    if fixed:
        q = Decimal(1).scaleb(-n)
        r = d.quantize(q, rounding="ROUND_HALF_EVEN")
    else:
        q = Decimal(1).scaleb(adj - n + 1)
        r = d.quantize(q, rounding="ROUND_HALF_EVEN")
        if r.adjusted() > adj:
            q = Decimal(1).scaleb(r.adjusted() - n + 1)
            r = r.quantize(q, rounding="ROUND_HALF_EVEN")
    t = r.as_tuple()
    ds = "".join(map(str, t.digits))
    exp = t.exponent
    assert isinstance(exp, int)
    if ds.strip("0") == "":
        return ("0" * (n + 1) if fixed else "0" * n), 1
    lead = len(ds) - len(ds.lstrip("0"))
    ds = ds.lstrip("0")
    point = len(ds) + lead + exp - lead
    point = len(ds) + exp
    return ds, point


def _e_form(digits: str, point: int, prec: int, e: str, strip: bool = False, p: int = 0) -> str:
    if strip:
        digits = digits.rstrip("0") or "0"
        prec = len(digits) - 1
    first = digits[0]
    rest = digits[1:].ljust(prec, "0")[:prec]
    exp = point - 1 if digits != "0" else 0
    mant = first + ("." + rest if prec > 0 else "")
    return f"{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _f_form(digits: str, point: int, prec: int) -> str:
    if point <= 0:
        intpart = "0"
        frac = "0" * (-point) + digits
    elif point >= len(digits):
        intpart = digits + "0" * (point - len(digits))
        frac = ""
    else:
        intpart = digits[:point]
        frac = digits[point:]
    frac = frac.ljust(prec, "0")[:prec]
    return intpart + ("." + frac if prec > 0 else "")


def _hex_float(a: float, prec: int, verb: str) -> str:
    if a == 0:
        mant, exp = 0, 0
    else:
        m, e = math.frexp(a)  # a = m * 2**e, 0.5 <= m < 1
        mant = int(m * (1 << 53))  # 53 bits, top bit set
        exp = e - 1
    # mant has its leading 1 at bit 52: 1.xxxx (13 hex digits of fraction).
    frac = mant & ((1 << 52) - 1)
    lead = mant >> 52
    if prec < 0:
        hexdigits = f"{frac:013x}".rstrip("0")
    else:
        shift = 52 - 4 * prec
        if shift > 0:
            full = mant
            half = 1 << (shift - 1)
            rem = full & ((1 << shift) - 1)
            full >>= shift
            if rem > half or (rem == half and full & 1):
                full += 1
            if full >> (4 * prec) > 1:
                full >>= 1
                exp += 1
            lead = full >> (4 * prec)
            frac = full & ((1 << (4 * prec)) - 1)
            hexdigits = f"{frac:0{prec}x}" if prec else ""
        else:
            hexdigits = f"{frac:013x}" + "0" * (prec - 13)
    body = f"0x{lead}" + ("." + hexdigits if hexdigits else "")
    s = f"{body}p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return s.upper() if verb == "X" else s


# strconv.Quote.


def _is_print(c: str) -> bool:
    return c == " " or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)


def quote(s: str, ascii_only: bool = False) -> str:
    out = ['"']
    for c in s:
        out.append(_quote_char(c, '"', ascii_only))
    out.append('"')
    return "".join(out)


def quote_rune(r: int, ascii_only: bool = False) -> str:
    c = _rune_str(r)
    return "'" + _quote_char(c, "'", ascii_only) + "'"


_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
        "\v": "\\v", "\\": "\\\\"}


def _quote_char(c: str, q: str, ascii_only: bool) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:
        return f"\\x{o - 0xDC00:02x}"
    if c == q:
        return "\\" + c
    if c in _ESC:
        return _ESC[c]
    if ascii_only:
        if o < 0x80 and _is_print(c):
            return c
    elif _is_print(c):
        return c
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xD800 <= o <= 0xDFFF:
        return "\\ufffd"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def _can_backquote(s: str) -> bool:
    for c in s:
        o = ord(c)
        if 0xD800 <= o <= 0xDFFF:
            return False
        if c == "`" or c == "\ufeff":
            return False
        if (o < 0x20 and c != "\t") or o == 0x7F:
            return False
    return True


def _rune_str(v: int) -> str:
    if v < 0 or v > _MAX_RUNE or 0xD800 <= v <= 0xDFFF:
        return "\ufffd"
    return chr(v)


def _rune_count(s: str) -> int:
    """utf8.RuneCountInString: an invalid byte counts as one rune."""
    return len(s)


def _rune_prefix(s: str, n: int) -> str:
    return s[:n]


# Entry points.


def sprint(*args: Any) -> str:
    p = _Printer()
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(a, "v")
        prev_string = is_string
    return p.out()


def sprintln(*args: Any) -> str:
    p = _Printer()
    for i, a in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.print_arg(a, "v")
    p.buf.append("\n")
    return p.out()


def _parsenum(s: str, start: int, end: int) -> tuple[int, bool, int]:
    if start >= end:
        return 0, False, end
    num = 0
    isnum = False
    i = start
    while i < end and "0" <= s[i] <= "9":
        if num > 1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        isnum = True
        i += 1
    return num, isnum, i


def sprintf(fmt: str, *a: Any) -> str:
    """Go's fmt.Sprintf: each directive's flags, argument index, width, precision and verb."""
    return _Printf(fmt, a).run()


class _Printf:
    """One Sprintf as Go's doPrintf runs it: the position in `fmt`, the next argument, and
    whether an explicit `[n]` index reordered them (then unused ones are not EXTRA)."""

    def __init__(self, fmt: str, a: tuple[Any, ...]) -> None:
        self.p = _Printer()
        self.f = self.p.f
        self.fmt = fmt
        self.end = len(fmt)
        self.a = a
        self.i = 0
        self.arg_num = 0
        self.after_index = False
        self.reordered = False
        self.good = True

    def run(self) -> str:
        fmt, end, p = self.fmt, self.end, self.p
        while self.i < end:
            self.good = True
            last = self.i
            while self.i < end and fmt[self.i] != "%":
                self.i += 1
            if self.i > last:
                p.buf.append(fmt[last : self.i])
            if self.i >= end:
                break
            self.i += 1
            self.f.clear()
            if self.flags():
                continue
            if not self.directive():
                break
        self.extra()
        return p.out()

    def flags(self) -> bool:
        """Read the flags; True when a plain verb followed and was printed (Go's fast path)."""
        fmt, end, f = self.fmt, self.end, self.f
        while self.i < end:
            c = fmt[self.i]
            if c == "#":
                f.sharp = True
            elif c == "0":
                f.zero = not f.minus
            elif c == "+":
                f.plus = True
            elif c == "-":
                f.minus = True
                f.zero = False
            elif c == " ":
                f.space = True
            else:
                if "a" <= c <= "z" and self.arg_num < len(self.a):
                    self.print_verb(c)
                    self.i += 1
                    return True
                return False
            self.i += 1
        return False

    def directive(self) -> bool:
        """The rest of a directive after its flags; False when the format ends without a verb."""
        fmt, end, p = self.fmt, self.end, self.p
        self.arg_number()
        self.width()
        if self.i + 1 <= end and self.i < end and fmt[self.i] == ".":
            self.precision()
        if not self.after_index:
            self.arg_number()
        if self.i >= end:
            p.buf.append("%!(NOVERB)")
            return False
        verb = fmt[self.i]
        self.i += 1
        if verb == "%":
            p.buf.append("%")
        elif not self.good:
            p.buf.append("%!" + verb + "(BADINDEX)")
        elif self.arg_num >= len(self.a):
            p.buf.append("%!" + verb + "(MISSING)")
        else:
            self.print_verb(verb)
        return True

    def print_verb(self, verb: str) -> None:
        f = self.f
        if verb == "v":
            f.sharp_v, f.sharp = f.sharp, False
            f.plus_v, f.plus = f.plus, False
        self.p.print_arg(self.a[self.arg_num], verb)
        self.arg_num += 1

    def width(self) -> None:
        """`*` (the width from an argument) or digits."""
        fmt, end, f = self.fmt, self.end, self.f
        if self.i < end and fmt[self.i] == "*":
            self.i += 1
            f.wid, f.wid_present, self.arg_num = _int_from_arg(self.a, self.arg_num)
            if not f.wid_present:
                self.p.buf.append("%!(BADWIDTH)")
            if f.wid < 0:
                f.wid = -f.wid
                f.minus = True
                f.zero = False
            self.after_index = False
        else:
            f.wid, f.wid_present, self.i = _parsenum(fmt, self.i, end)
            if self.after_index and f.wid_present:
                self.good = False

    def precision(self) -> None:
        """After `.`: an argument index, then `*` (from an argument) or digits (none is 0)."""
        fmt, end, f = self.fmt, self.end, self.f
        self.i += 1
        if self.after_index:
            self.good = False
        self.arg_number()
        if self.i < end and fmt[self.i] == "*":
            self.i += 1
            f.prec, f.prec_present, self.arg_num = _int_from_arg(self.a, self.arg_num)
            if f.prec < 0:
                f.prec = 0
                f.prec_present = False
            if not f.prec_present:
                self.p.buf.append("%!(BADPREC)")
            self.after_index = False
        else:
            f.prec, f.prec_present, self.i = _parsenum(fmt, self.i, end)
            if not f.prec_present:
                f.prec = 0
                f.prec_present = True

    def arg_number(self) -> None:
        """An explicit `[n]`: argument n comes next; a bad one spoils the directive."""
        self.arg_num, self.i, self.after_index, ok = self._parse_arg_number()
        if not ok:
            self.good = False
        if self.after_index or not ok:
            self.reordered = True

    def _parse_arg_number(self) -> tuple[int, int, bool, bool]:
        """-> (argNum, i, found, good), as Go's argNumber."""
        fmt, end, i, arg_num = self.fmt, self.end, self.i, self.arg_num
        if i >= end or fmt[i] != "[":
            return arg_num, i, False, True
        # parseArgNumber
        if end - i < 3:
            return arg_num, i + 1, False, False
        for j in range(i + 1, end):
            if fmt[j] == "]":
                width, ok, newi = _parsenum(fmt, i + 1, j)
                if not ok or newi != j:
                    return arg_num, j + 1, False, False
                index = width - 1
                if 0 <= index < len(self.a):
                    return index, j + 1, True, True
                return arg_num, j + 1, True, False
        return arg_num, i + 1, False, False

    def extra(self) -> None:
        """Arguments no directive used, unless an index reordered them: %!(EXTRA type=value)."""
        p, f = self.p, self.f
        if self.reordered or self.arg_num >= len(self.a):
            return
        f.clear()
        p.buf.append("%!(EXTRA ")
        for j, arg in enumerate(self.a[self.arg_num :]):
            if j:
                p.buf.append(", ")
            if arg is None or arg is NULL:
                p.buf.append("<nil>")
            else:
                p.buf.append(type_name(arg) + "=")
                p.print_arg(arg, "v")
        p.buf.append(")")


def _int_from_arg(a: tuple[Any, ...], arg_num: int) -> tuple[int, bool, int]:
    num, ok = 0, False
    if arg_num < len(a):
        v = a[arg_num]
        if isinstance(v, int) and not isinstance(v, bool):
            num, ok = int(v), True
            if not -1_000_000 <= num <= 1_000_000:
                num, ok = 0, False
        arg_num += 1
    return num, ok, arg_num


def sprint_value(v: Any) -> str:
    """What `{{v}}` prints (fmt.Fprint of one value)."""
    return sprint(v)


__all__ = ["format_float", "quote", "sprint", "sprint_value", "sprintf", "sprintln"]
_ = Slice
