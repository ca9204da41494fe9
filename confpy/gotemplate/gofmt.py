"""Go's fmt package for the values a template holds: Sprint, Sprintln and Sprintf.

Follows fmt's print.go and format.go: flags, width and precision apply to each element
of a slice or map; `%!verb(type=value)` marks a bad verb; `%!(EXTRA ...)`, `[n]`
argument indexes, `*` widths. Floats and quoting are strconv's (confpy.gotemplate.gostrconv).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from confpy.gotemplate.gostrconv import (
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
    NULL,
    KVPair,
    Slice,
    Uint8,
    go_bytes,
    go_str_less_key,
    type_name,
)


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
        width = f.wid - rune_count(s)
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


__all__ = ["sprint", "sprint_value", "sprintf", "sprintln"]
_ = Slice
