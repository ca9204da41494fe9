"""Go's time.Time for confd's `datetime`, which the engine and `convert` share.

`go_time_format` and `_time_method` are Go's time.Time Format and methods on Python
datetimes; `_next_chunk` splits a layout into Go's reference-time elements. `time_now` is
Go's time.Now: nanoseconds and a monotonic clock reading, which `String` prints (`m=+0.01`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from confpy.errors import RenderError


class _Named(int):
    """An integer that prints as a name, like Go's time.Month and time.Weekday."""

    name: str
    gotype: str

    def __new__(cls, value: int, name: str, gotype: str = "time.Month") -> _Named:
        obj = super().__new__(cls, value)
        obj.name = name
        obj.gotype = gotype
        return obj

    def __str__(self) -> str:
        return self.name

    def go_string(self) -> str:
        """Go's String method: what %v and %s print."""
        return self.name


class Location:
    """Go's *time.Location: only its name ("Local" or "UTC") shows in a template."""

    gotype = "*time.Location"

    def __init__(self, name: str) -> None:
        self.name = name

    def go_string(self) -> str:
        return self.name


class GoTime(datetime):
    """time.Time with what a datetime lacks: nanoseconds, and time.Now's monotonic reading
    (nanoseconds since the process started; UTC and Local drop it, as Go's do)."""

    nanos: int = 0
    mono: int | None = None


_PROCESS_START = time.monotonic_ns() - 1  # Go's startNano: readings start above zero


def time_now() -> GoTime:
    """Go's time.Now in the local zone."""
    wall, mono = time.time_ns(), time.monotonic_ns()
    return _with(
        datetime.fromtimestamp(wall // 1_000_000_000).astimezone(),
        wall % 10**9,
        mono - _PROCESS_START,
    )


def _with(t: datetime, nanos: int, mono: int | None) -> GoTime:
    out = GoTime(
        t.year, t.month, t.day, t.hour, t.minute, t.second, nanos // 1000, t.tzinfo, fold=t.fold
    )
    out.nanos, out.mono = nanos, mono
    return out


def _nanos(t: datetime) -> int:
    return t.nanos if isinstance(t, GoTime) else t.microsecond * 1000


def _mono_suffix(t: datetime) -> str:
    """Go's " m=+S.NNNNNNNNN" after a time that carries a monotonic reading."""
    mono = t.mono if isinstance(t, GoTime) else None
    if mono is None:
        return ""
    sign = "-" if mono < 0 else "+"
    secs, frac = divmod(abs(mono), 1_000_000_000)
    return f" m={sign}{secs}.{frac:09d}"


def _moved(t: datetime, zone: datetime) -> GoTime:
    """`t` in another zone (UTC, Local): same instant and nanoseconds, no monotonic reading."""
    return _with(zone, _nanos(t), None)


def _location(t: datetime) -> Location:
    return Location("UTC" if t.tzinfo is UTC else "Local")


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _time_string(t: datetime) -> str:
    """time.Time.String, with the monotonic clock reading when the time has one."""
    nanos = _nanos(t)
    frac = f".{nanos:09d}".rstrip("0") if nanos else ""
    zone = go_time_format(t, " -0700 MST")
    return go_time_format(t, "2006-01-02 15:04:05") + frac + zone + _mono_suffix(t)


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
    "January",
    "Jan",
    "Monday",
    "Mon",
    "MST",
    "2006",
    "002",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "__2",
    "_2",
    "1",
    "2",
    "3",
    "4",
    "5",
    "PM",
    "pm",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
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
        nanos = f"{_nanos(t):09d}"[:digits]
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
        "07": f"{h:02d}",
        "0700": f"{h:02d}{m:02d}",
        "07:00": f"{h:02d}:{m:02d}",
        "070000": f"{h:02d}{m:02d}{s:02d}",
        "07:00:00": f"{h:02d}:{m:02d}:{s:02d}",
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
        "Nanosecond": lambda: _nanos(t),
        "YearDay": lambda: t.timetuple().tm_yday,
        "Weekday": lambda: _Named((t.weekday() + 1) % 7, _DAYS[t.weekday()], "time.Weekday"),
        "Unix": lambda: int(t.timestamp()),
        "UnixNano": lambda: int(t.timestamp()) * 1_000_000_000 + _nanos(t),
        "UTC": lambda: _moved(t, t.astimezone(UTC)),
        "Local": lambda: _moved(t, t.astimezone()),
        "Location": lambda: _location(t),
    }
    if name not in table:
        raise RenderError(f"can't evaluate field {name} in type time.Time")
    return table[name]()
