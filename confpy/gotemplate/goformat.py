"""Go's fmt/format.go: padding and the formatting of one integer, float, complex or string.

A `Formatter` holds the output buffer and the flags, width and precision of the directive
being printed; the verb dispatch over a value's kind is confpy.gotemplate.goprint's.
"""

from __future__ import annotations

from typing import Any

from confpy.golib.strconv import (
    MAX_RUNE,
    can_backquote,
    format_float,
    is_print,
    quote,
    quote_rune,
    rune_count,
    rune_prefix,
    rune_str,
)
from confpy.gotemplate.values import (
    go_bytes,
)


class Flags:
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


class Formatter:
    """The buffer and flags of one print, and format.go's fmt* methods over them."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.f = Flags()
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
        width = f.wid - rune_count(s)
        if not f.minus:
            self.buf.append(self.padding(width) + s)
        else:
            self.buf.append(s + self.padding(width))

    def bad_verb(self, verb: str, arg: Any) -> None:
        """`%!verb(type=value)`: the printer's, since it prints the value."""
        raise NotImplementedError

    # Strings.

    def truncate(self, s: str) -> str:
        if self.f.prec_present and rune_count(s) > self.f.prec:
            return rune_prefix(s, self.f.prec)
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
        if self.f.sharp and can_backquote(s):
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
            self.pad(rune_str(v))
        elif verb == "q":
            r = v if 0 <= v <= MAX_RUNE else 0xFFFD
            if self.f.sharp and r != 0x60 and can_backquote(rune_str(r)):
                self.pad("'" + rune_str(r) + "'")
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
        if f.sharp and 0 <= u <= MAX_RUNE and is_print(chr(u)) and not 0xD800 <= u <= 0xDFFF:
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
