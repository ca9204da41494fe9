"""Go's strconv as fmt uses it: FormatFloat (shortest, %e, %f, %g, %x forms) and Quote."""

from __future__ import annotations

import math

from confpy.golib.unicode import go_is_print

MAX_RUNE = 0x10FFFF


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
    from decimal import Decimal  # here: only printing a float needs it, not every start

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
    from decimal import Decimal

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


def is_print(c: str) -> bool:
    """strconv.IsPrint as Go 1.19 has it (Unicode 13, confpy.golib.unicode)."""
    return c == " " or (go_is_print(c) and not 0xD800 <= ord(c) <= 0xDFFF)


def quote(s: str, ascii_only: bool = False) -> str:
    out = ['"']
    for c in s:
        out.append(_quote_char(c, '"', ascii_only))
    out.append('"')
    return "".join(out)


def quote_rune(r: int, ascii_only: bool = False) -> str:
    c = rune_str(r)
    return "'" + _quote_char(c, "'", ascii_only) + "'"


_ESC = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _quote_char(c: str, q: str, ascii_only: bool) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:
        return f"\\x{o - 0xDC00:02x}"
    if c == q:
        return "\\" + c
    if c in _ESC:
        return _ESC[c]
    if ascii_only:
        if o < 0x80 and is_print(c):
            return c
    elif is_print(c):
        return c
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xD800 <= o <= 0xDFFF:
        return "\\ufffd"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def can_backquote(s: str) -> bool:
    for c in s:
        o = ord(c)
        if 0xD800 <= o <= 0xDFFF:
            return False
        if c == "`" or c == "\ufeff":
            return False
        if (o < 0x20 and c != "\t") or o == 0x7F:
            return False
    return True


def rune_str(v: int) -> str:
    if v < 0 or v > MAX_RUNE or 0xD800 <= v <= 0xDFFF:
        return "\ufffd"
    return chr(v)


def rune_count(s: str) -> int:
    """utf8.RuneCountInString: an invalid byte counts as one rune."""
    return len(s)


def rune_prefix(s: str, n: int) -> str:
    return s[:n]
