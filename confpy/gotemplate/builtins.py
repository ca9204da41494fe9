"""Go text/template's builtin functions and Go's value formatting, as Jinja globals.

The translator emits calls to these under `_go_*` names so they never collide with
confd's functions. Formatting follows Go's fmt package: `%v` of a list is `[a b]`,
of a map `map[k:v]` with sorted keys, a bool is `true`, a float uses Go's shortest `%g`.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confpy import funcs
from confpy.errors import RenderError
from confpy.funcs import SRV
from confpy.keyfuncs import KVPair

# Formatting values the way Go's fmt prints them.


class _Named(int):
    """An integer that prints as a name, like Go's time.Month and time.Weekday."""

    name: str

    def __new__(cls, value: int, name: str) -> _Named:
        obj = super().__new__(cls, value)
        obj.name = name
        return obj

    def __str__(self) -> str:
        return self.name


def go_type(value: Any) -> str:
    """The Go type name fmt shows in `%!d(string=x)` error markers."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, str) for v in value):
            return "[]string"
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, KVPair):
        return "memkv.KVPair"
    if isinstance(value, datetime):
        return "time.Time"
    return type(value).__name__


def go_float(f: float, verb: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat for 'g' (shortest when prec is -1), 'e' and 'f'."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if verb == "f":
        if prec < 0:
            d = Decimal(repr(f))
            return format(d, "f") if d != d.to_integral() or "e" in repr(f) else str(int(f))
        return f"{f:.{prec}f}"
    if verb == "e":
        if prec < 0:
            digits, point, neg = _shortest(f)
            return _fmt_e(digits, point, neg, len(digits) - 1)
        return _go_exp(f"{f:.{prec}e}")
    # 'g'
    if prec >= 0:
        text = f"{f:.{prec or 1}g}"
        return _go_exp(text)
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    digits, point, neg = _shortest(f)
    # Go's %v picks exponent form past 6 digits before the point, whatever the precision.
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _fmt_e(digits, point, neg, len(digits) - 1)
    return _fmt_f_digits(digits, point, neg)


def _shortest(f: float) -> tuple[str, int, bool]:
    """Shortest round-trip digits of `f` and where the decimal point goes (Python's repr)."""
    _, digit_tuple, exponent = Decimal(repr(abs(f))).as_tuple()
    assert isinstance(exponent, int)
    all_digits = "".join(map(str, digit_tuple))
    digits = all_digits.lstrip("0") or "0"
    point = len(digits) + exponent
    digits = digits.rstrip("0") or "0"
    return digits, point, f < 0 or (f == 0 and math.copysign(1, f) < 0)


def _fmt_e(digits: str, point: int, neg: bool, prec: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1 if digits != "0" else 0
    return ("-" if neg else "") + f"{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f_digits(digits: str, point: int, neg: bool) -> str:
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if neg else "") + text


def _go_exp(text: str) -> str:
    """Python writes `1e+6` as `1e+06` already; Go needs at least two exponent digits too."""
    if "e" not in text:
        return text
    mant, exp = text.split("e")
    sign = exp[0] if exp[0] in "+-" else "+"
    return f"{mant}e{sign}{int(exp.lstrip('+-')):02d}"


def go_value(value: Any) -> str:
    """fmt's `%v`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Named):
        return value.name
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{go_value(k)}:{go_value(value[k])}" for k in _sorted_keys(value))
        return "map[" + " ".join(items) + "]"
    if isinstance(value, KVPair):
        return "{" + value.key + " " + value.value + "}"
    if isinstance(value, SRV):
        return f"{{{value.Target} {value.Port} {value.Priority} {value.Weight}}}"
    if isinstance(value, datetime):
        return _time_string(value)
    return str(value)


def _sorted_keys(d: dict[Any, Any]) -> list[Any]:
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: (type(k).__name__, str(k)))


def go_out(value: Any) -> str:
    """What `{{ value }}` prints: like `%v`, except that nil prints `<no value>`."""
    if value is None:
        return "<no value>"
    return go_value(value)


def go_sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(go_value(a))
        prev_string = is_string
    return "".join(out)


def go_sprintln(*args: Any) -> str:
    return " ".join(go_value(a) for a in args) + "\n"


def go_quote(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
}


def go_sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: v s d q x X o b c t f e g, flags and width."""
    out: list[str] = []
    i = 0
    n = len(fmt)
    argi = 0
    while i < n:
        j = fmt.find("%", i)
        if j == -1:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width = -1
        prec = -1
        if i < n and fmt[i] == "*":
            width = int(args[argi]) if argi < len(args) else 0
            argi += 1
            i += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                prec = int(args[argi]) if argi < len(args) else 0
                argi += 1
                i += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[start:i] or 0)
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_pad(_format_one(verb, flags, prec, arg), flags, width, verb, arg))
    if argi < len(args):
        extra = ", ".join(f"{go_type(a)}={go_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _pad(text: str, flags: str, width: int, verb: str, arg: Any) -> str:
    if width < 0 or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    numeric = isinstance(arg, int | float) and not isinstance(arg, bool) and verb in "dvxXobfeEgG"
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+-" else ""
        return sign + text[len(sign):].rjust(width - len(sign), "0")
    return text.rjust(width)


def _bad(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={go_value(arg)})"


def _format_one(verb: str, flags: str, prec: int, arg: Any) -> str:
    if verb == "T":
        return go_type(arg)
    if arg is None:
        return "<nil>" if verb == "v" else _bad(verb, arg)
    if isinstance(arg, list | tuple):
        return "[" + " ".join(_format_one(verb, flags, prec, v) for v in arg) + "]"
    if isinstance(arg, dict):
        inner = " ".join(
            f"{_format_one(verb, flags, prec, k)}:{_format_one(verb, flags, prec, arg[k])}"
            for k in _sorted_keys(arg)
        )
        return "map[" + inner + "]"
    if isinstance(arg, bool):
        return ("true" if arg else "false") if verb in "vt" else _bad(verb, arg)
    if isinstance(arg, int):
        return _format_int(verb, flags, prec, arg)
    if isinstance(arg, float):
        return _format_float(verb, flags, prec, arg)
    if isinstance(arg, str):
        if verb in "vs":
            return arg if prec < 0 else arg[:prec]
        if verb == "q":
            return go_quote(arg if prec < 0 else arg[:prec])
        if verb in "xX":
            data = arg.encode()
            text = data.hex() if verb == "x" else data.hex().upper()
            return text if " " not in flags else " ".join(f"{b:02{verb}}" for b in data)
        return _bad(verb, arg)
    if verb in "vs":
        return go_value(arg)
    return _bad(verb, arg)


def _format_int(verb: str, flags: str, prec: int, arg: int) -> str:
    sign = "-" if arg < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
    a = abs(arg)
    if verb in "dv":
        body = str(a)
    elif verb == "x":
        body = ("0x" if "#" in flags else "") + format(a, "x")
    elif verb == "X":
        body = ("0X" if "#" in flags else "") + format(a, "X")
    elif verb == "o":
        body = ("0" if "#" in flags else "") + format(a, "o")
    elif verb == "O":
        body = "0o" + format(a, "o")
    elif verb == "b":
        body = format(a, "b")
    elif verb == "c":
        return chr(arg)
    elif verb == "q":
        return "'" + go_quote(chr(arg))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'"
    elif verb == "U":
        return f"U+{arg:04X}"
    else:
        return _bad(verb, arg)
    if prec >= 0 and verb in "dvxXob":
        body = body.zfill(prec)
    return sign + body


def _format_float(verb: str, flags: str, prec: int, arg: float) -> str:
    sign = "+" if "+" in flags and arg >= 0 else ""
    if verb in "vgG":
        text = go_float(arg, "g", prec)
        return sign + (text.upper() if verb == "G" else text)
    if verb in "fF":
        return sign + go_float(arg, "f", 6 if prec < 0 else prec)
    if verb in "eE":
        text = go_float(arg, "e", 6 if prec < 0 else prec)
        return sign + (text.upper() if verb == "E" else text)
    return _bad(verb, arg)


# Go's time.Time methods on Python datetimes, for confd's `datetime`.

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _time_string(t: datetime) -> str:
    """time.Time.String without the monotonic clock reading."""
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return go_time_format(t, "2006-01-02 15:04:05") + frac + go_time_format(t, " -0700 MST")


def _zone_name(t: datetime) -> str:
    name = t.tzname() or ""
    if name and name[0] not in "+-":
        return name
    # Go prints a zone without an abbreviation as its offset, e.g. "+03" or "+0530".
    off = _offset_minutes(t)
    sign = "-" if off < 0 else "+"
    h, m = divmod(abs(off), 60)
    return f"{sign}{h:02d}" + (f"{m:02d}" if m else "")


def _offset_minutes(t: datetime) -> int:
    off = t.utcoffset() or timedelta(0)
    return int(off.total_seconds()) // 60


def _offset_seconds(t: datetime) -> int:
    off = t.utcoffset() or timedelta(0)
    return int(off.total_seconds())


_STD_CHUNKS = [
    # Longest first where one is a prefix of another; matched left to right as Go does.
    "January", "Jan", "Monday", "Mon", "MST",
    "2006", "002", "01", "02", "03", "04", "05", "06", "15",
    "__2", "_2", "1", "2", "3", "4", "5",
    "PM", "pm",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
]


def _next_chunk(layout: str, i: int) -> tuple[str | None, int]:
    """The std chunk at `i` and its length, or (None, 1) for a literal character."""
    c = layout[i]
    if c in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
        j = i + 1
        while j < len(layout) and layout[j] == layout[i + 1]:
            j += 1
        if not (j < len(layout) and layout[j].isdigit()):
            return layout[i:j], j - i
    if c == "0" and not layout.startswith(("01", "02", "03", "04", "05", "06", "002"), i):
        return None, 1
    if c == "2" and layout.startswith("2006", i):
        return "2006", 4
    for chunk in _STD_CHUNKS:
        if layout.startswith(chunk, i):
            if chunk == "Mon" and layout.startswith("Month", i):
                continue
            if chunk == "Jan" and layout.startswith("January", i):
                return "January", 7
            if chunk == "1" and layout.startswith("15", i):
                return "15", 2
            if chunk == "_2" and layout.startswith("_2006", i):
                return None, 1
            return chunk, len(chunk)
    return None, 1


def go_time_format(t: datetime, layout: str) -> str:
    """time.Time.Format with Go's reference-time layout (Mon Jan 2 15:04:05 MST 2006)."""
    out: list[str] = []
    i = 0
    while i < len(layout):
        chunk, width = _next_chunk(layout, i)
        if chunk is None:
            out.append(layout[i : i + width])
        else:
            out.append(_format_chunk(t, chunk))
        i += width
    return "".join(out)


def _format_chunk(t: datetime, chunk: str) -> str:
    hour12 = t.hour % 12 or 12
    simple: dict[str, Callable[[], str]] = {
        "January": lambda: _MONTHS[t.month - 1],
        "Jan": lambda: _MONTHS[t.month - 1][:3],
        "Monday": lambda: _DAYS[t.weekday()],
        "Mon": lambda: _DAYS[t.weekday()][:3],
        "MST": lambda: _zone_name(t),
        "2006": lambda: f"{t.year:04d}",
        "06": lambda: f"{t.year % 100:02d}",
        "01": lambda: f"{t.month:02d}",
        "1": lambda: str(t.month),
        "02": lambda: f"{t.day:02d}",
        "2": lambda: str(t.day),
        "_2": lambda: f"{t.day:2d}",
        "002": lambda: f"{t.timetuple().tm_yday:03d}",
        "__2": lambda: f"{t.timetuple().tm_yday:3d}",
        "15": lambda: f"{t.hour:02d}",
        "03": lambda: f"{hour12:02d}",
        "3": lambda: str(hour12),
        "04": lambda: f"{t.minute:02d}",
        "4": lambda: str(t.minute),
        "05": lambda: f"{t.second:02d}",
        "5": lambda: str(t.second),
        "PM": lambda: "PM" if t.hour >= 12 else "AM",
        "pm": lambda: "pm" if t.hour >= 12 else "am",
    }
    if chunk in simple:
        return simple[chunk]()
    if chunk[0] in ".,":
        digits = len(chunk) - 1
        nanos = f"{t.microsecond * 1000:09d}"[:digits]
        if chunk[1] == "9":
            nanos = nanos.rstrip("0")
            return chunk[0] + nanos if nanos else ""
        return chunk[0] + nanos
    # Zone offsets.
    secs = _offset_seconds(t)
    if chunk[0] == "Z" and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    h, rem = divmod(abs(secs), 3600)
    m, s = divmod(rem, 60)
    body = chunk[1:]
    parts = {
        "07": f"{h:02d}", "0700": f"{h:02d}{m:02d}", "07:00": f"{h:02d}:{m:02d}",
        "070000": f"{h:02d}{m:02d}{s:02d}", "07:00:00": f"{h:02d}:{m:02d}:{s:02d}",
    }
    return sign + parts[body]


def _time_method(t: datetime, name: str, args: tuple[Any, ...]) -> Any:
    def no_args() -> None:
        if args:
            raise RenderError(f"wrong number of args for {name}: want 0 got {len(args)}")

    if name == "Format":
        if len(args) != 1 or not isinstance(args[0], str):
            raise RenderError("wrong arguments for Format: want one layout string")
        return go_time_format(t, args[0])
    no_args()
    table: dict[str, Callable[[], Any]] = {
        "String": lambda: _time_string(t),
        "Year": lambda: t.year,
        "Month": lambda: _Named(t.month, _MONTHS[t.month - 1]),
        "Day": lambda: t.day,
        "Hour": lambda: t.hour,
        "Minute": lambda: t.minute,
        "Second": lambda: t.second,
        "Nanosecond": lambda: t.microsecond * 1000,
        "YearDay": lambda: t.timetuple().tm_yday,
        "Weekday": lambda: _Named((t.weekday() + 1) % 7, _DAYS[t.weekday()]),
        "Unix": lambda: int(t.timestamp()),
        "UnixNano": lambda: int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000,
        "UTC": lambda: t.astimezone(UTC),
        "Local": lambda: t.astimezone(),
    }
    if name not in table:
        raise RenderError(f"can't evaluate field {name} in type time.Time")
    return table[name]()


# Template builtins.


def go_truth(value: Any) -> bool:
    """text/template's truth: false, 0, nil, and empty strings, lists and maps are false."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


def go_field(obj: Any, name: str, *args: Any) -> Any:
    """`.Name` on a value: a map key, a field, or a method called with `args`."""
    if obj is None:
        # text/template gives `<no value>` for a field of nil data, not an error.
        return None
    if isinstance(obj, dict):
        if args:
            raise RenderError(f"{name} is not a method but has arguments")
        return obj.get(name)
    if isinstance(obj, datetime):
        return _time_method(obj, name, args)
    if isinstance(obj, KVPair | SRV) and name[:1].isupper():
        value = getattr(obj, name, _MISSING)
        if value is not _MISSING:
            if args:
                raise RenderError(f"{name} is not a method but has arguments")
            return value
    raise RenderError(f"can't evaluate field {name} in type {go_type(obj)}")


_MISSING = object()


def go_range(value: Any) -> list[tuple[Any, Any]]:
    """(key, element) pairs in Go's order: list order, or a map's keys sorted."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [(k, value[k]) for k in _sorted_keys(value)]
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    raise RenderError(f"range can't iterate over {go_value(value)}")


def go_len(value: Any) -> int:
    if isinstance(value, str):
        # Go's len counts bytes.
        return len(value.encode("utf-8"))
    if isinstance(value, list | tuple | dict):
        return len(value)
    if value is None:
        raise RenderError("len of nil pointer")
    raise RenderError(f"len of type {go_type(value)}")


def go_index(item: Any, *indexes: Any) -> Any:
    """`index x 1 "k"`: x[1]["k"]; a missing map key gives nil, as in Go."""
    for idx in indexes:
        if item is None:
            raise RenderError("index of untyped nil")
        if isinstance(item, dict):
            if not isinstance(idx, str):
                raise RenderError(f"value has type {go_type(idx)}; should be string")
            item = item.get(idx)
        elif isinstance(item, list | tuple | str):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise RenderError(f"cannot index slice/array with type {go_type(idx)}")
            seq: Any = item.encode("utf-8") if isinstance(item, str) else item
            if not 0 <= idx < len(seq):
                raise RenderError(f"error calling index: index out of range: {idx}")
            item = seq[idx]
        else:
            raise RenderError(f"can't index item of type {go_type(item)}")
    return item


def go_slice(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, list | tuple | str):
        raise RenderError(f"can't slice item of type {go_type(item)}")
    if len(indexes) > (2 if isinstance(item, str) else 3):
        raise RenderError("too many slice indexes")
    seq: Any = item.encode("utf-8") if isinstance(item, str) else item
    bounds = [int(i) for i in indexes]
    start = bounds[0] if bounds else 0
    end = bounds[1] if len(bounds) > 1 else len(seq)
    if not 0 <= start <= end <= len(seq):
        raise RenderError(f"error calling slice: index out of range: {start}:{end}")
    out = seq[start:end]
    return out.decode("utf-8", errors="replace") if isinstance(item, str) else list(out)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    return "other"


def go_eq(arg1: Any, *args: Any) -> bool:
    """`eq a b c` is a == b || a == c; values of different kinds cannot be compared."""
    if not args:
        raise RenderError("missing argument for comparison")
    k1 = _kind(arg1)
    if k1 == "other" and isinstance(arg1, list | dict):
        raise RenderError(f"non-comparable type {go_value(arg1)}: {go_type(arg1)}")
    for b in args:
        k2 = _kind(b)
        if k1 == "nil" or k2 == "nil":
            if arg1 is None and b is None:
                return True
            if k1 == "nil" and k2 == "nil":
                return True
            raise RenderError("incompatible types for comparison")
        if k1 != k2:
            raise RenderError("incompatible types for comparison")
        if isinstance(b, list | dict):
            raise RenderError(f"non-comparable type {go_value(b)}: {go_type(b)}")
        if arg1 == b:
            return True
    return False


def go_ne(a: Any, b: Any) -> bool:
    return not go_eq(a, b)


def go_lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("int", "float", "string") or kb not in ("int", "float", "string"):
        raise RenderError("invalid type for comparison")
    if ka != kb:
        raise RenderError("incompatible types for comparison")
    return bool(a < b)


def go_le(a: Any, b: Any) -> bool:
    return go_lt(a, b) or go_eq(a, b)


def go_gt(a: Any, b: Any) -> bool:
    return not go_le(a, b)


def go_ge(a: Any, b: Any) -> bool:
    return not go_lt(a, b)


def go_not(value: Any) -> bool:
    return not go_truth(value)


def go_and(*values: Any) -> Any:
    for v in values[:-1]:
        if not go_truth(v):
            return v
    return values[-1]


def go_or(*values: Any) -> Any:
    for v in values[:-1]:
        if go_truth(v):
            return v
    return values[-1]


def go_html(*args: Any) -> str:
    """text/template's html: HTMLEscapeString of the printed arguments."""
    s = _single_string(args)
    table = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def go_js(*args: Any) -> str:
    """text/template's js: JSEscapeString of the printed arguments."""
    s = _single_string(args)
    out: list[str] = []
    for c in s:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=" or ord(c) < 0x20 or not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def go_urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_single_string(args), safe="-_.~")


def _single_string(args: Iterable[Any]) -> str:
    args = list(args)
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return go_sprint(*args)


def _floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def go_json(data: str) -> dict[str, Any]:
    """confd's json: Go decodes every JSON number as float64 (80 prints `80`, 1e6 `1e+06`)."""
    value: dict[str, Any] = _floats(funcs.json(data))
    return value


def go_json_array(data: str) -> list[Any]:
    values: list[Any] = _floats(funcs.json_array(data))
    return values


GO_GLOBALS: dict[str, Callable[..., Any]] = {
    "_go_json": go_json,
    "_go_json_array": go_json_array,
    "_go_out": go_out,
    "_go_print": go_sprint,
    "_go_printf": go_sprintf,
    "_go_println": go_sprintln,
    "_go_truth": go_truth,
    "_go_field": go_field,
    "_go_range": go_range,
    "_go_len": go_len,
    "_go_index": go_index,
    "_go_slice": go_slice,
    "_go_eq": go_eq,
    "_go_ne": go_ne,
    "_go_lt": go_lt,
    "_go_le": go_le,
    "_go_gt": go_gt,
    "_go_ge": go_ge,
    "_go_not": go_not,
    "_go_and": go_and,
    "_go_or": go_or,
    "_go_html": go_html,
    "_go_js": go_js,
    "_go_urlquery": go_urlquery,
}
"""Go's builtins under the names the translation emits; merged into the Jinja globals."""
