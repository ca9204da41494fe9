"""Parse the durations users write in flags and files: `500ms`, `30s`, `5m`, `1h30m`, `90`."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | int | float) -> float:
    """Return seconds for a Go-style duration; a bare number means seconds.

    Raises ValueError with a message naming the text; callers add the flag or field.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"not a duration: {text!r}")
        if text < 0:
            raise ValueError(f"duration must not be negative: {text}")
        return float(text)
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):  # nan, inf, 1e999
            raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 1h30m)")
        if value < 0:
            raise ValueError(f"duration must not be negative: {text!r}")
        return value
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 1h30m)")
    return total


def parse_wait(text: str) -> tuple[float, float]:
    """Parse consul-template's `MIN:MAX` (or `MIN`, meaning MAX = 4*MIN) debounce window."""
    lo, sep, hi = text.partition(":")
    low = parse_duration(lo)
    high = parse_duration(hi) if sep else low * 4
    if high < low:
        raise ValueError(f"wait {text!r}: MAX must not be less than MIN")
    return low, high
