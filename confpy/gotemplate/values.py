"""Go values as the direct engine holds them, with the Go type each one has.

Python's str, int, float, complex, bool, dict and None stand for Go's string, int,
float64, complex128, bool, map[string]interface{} and an invalid (missing) value. Go
strings are bytes: a str here may hold surrogate escapes (`errors="surrogateescape"`) for
bytes that are not UTF-8, and `go_bytes` gives the bytes back. What Python cannot say
alone has a class: `Slice` (a list with its Go type and capacity), `NULL` (a nil held in
an interface, e.g. a JSON null), `Uint8` (a byte from `index` of a string), `KVPair`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from confpy.golib.memkv import KVPair as KVPair  # memkv.KVPair, the one both engines use
from confpy.golib.memkv import byte_order


class GoError(Exception):
    """A Go function returned an error (or panicked): "error calling NAME: ..." in a template."""


class _Null:
    """A nil inside an interface{} (JSON null, a missing map entry from `index`)."""

    _instance: _Null | None = None

    def __new__(cls) -> _Null:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL"

    def __bool__(self) -> bool:
        return False


NULL = _Null()


class Uint8(int):
    """A byte, as `index` of a string returns it (Go's uint8)."""


class Slice(list[Any]):
    """A Go slice: its elements, its type name (`[]string`, `memkv.KVPairs`, ...) and cap."""

    gotype: str
    cap: int
    nil: bool
    """A nil slice (`var s []int` never appended to): `eq` finds it equal to nil."""

    def __init__(
        self, items: Any = (), gotype: str = "[]interface {}", cap: int = -1, nil: bool = False
    ) -> None:
        super().__init__(items)
        self.gotype = gotype
        self.cap = len(self) if cap < 0 else max(cap, len(self))
        self.nil = nil and not len(self)
        self._beyond: list[Any] = []
        """What the backing array holds past the length, up to the capacity, when this
        slice was cut from a longer one (`slice $s 0 1`); zeros when it grew by append."""

    def array(self) -> list[Any]:
        """The elements up to the capacity, as Go's `s[:cap(s)]` sees them."""
        beyond = self._beyond[: self.cap - len(self)]
        zeros = [ZERO_OF.get(self.elem, NULL)] * (self.cap - len(self) - len(beyond))
        return list(self) + beyond + zeros

    @classmethod
    def window(cls, array: list[Any], low: int, high: int, cap: int, gotype: str) -> Slice:
        """Go's `array[low:high:cap]`: the elements past `high` stay reachable."""
        s = cls(array[low:high], gotype, cap - low)
        s._beyond = array[high:cap]
        return s

    @classmethod
    def appended(cls, items: Any, gotype: str) -> Slice:
        """A slice built by `append` from empty: its capacity grew by doubling."""
        s = cls(items, gotype)
        n = len(s)
        cap = 0 if n == 0 else 1
        while cap < n:
            cap *= 2
        s.cap = cap
        return s

    @property
    def elem(self) -> str:
        return {"memkv.KVPairs": "memkv.KVPair"}.get(self.gotype, self.gotype[2:])


class NilMap(dict[str, Any]):
    """A nil map (JSON null decoded into a map): prints `map[]`, equals nil."""


ZERO_OF = {"string": "", "int": 0, "memkv.KVPair": KVPair("", ""), "interface {}": NULL}


def go_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def type_name(v: Any) -> str:
    """reflect.TypeOf(v).String()."""
    if v is None or v is NULL:
        return "<nil>"
    named = getattr(v, "gotype", None)  # a Slice, time.Month, *time.Location, ...
    if isinstance(named, str):
        return named
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Uint8):
        return "uint8"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Slice):
        return v.gotype
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, KVPair):
        return "memkv.KVPair"
    if isinstance(v, datetime):
        return "time.Time"
    return type(v).__name__


def kind(v: Any) -> str:
    """reflect.Kind of a value, as text/template's checks see it."""
    if v is None:
        return "invalid"
    if v is NULL:
        return "interface"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Uint8):
        return "uint"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "slice"
    if isinstance(v, dict):
        return "map"
    return "struct"


go_str_less_key = byte_order
"""Go compares strings byte by byte."""


def wrap_int(n: int) -> int:
    """Go's int is 64 bits and wraps."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n
