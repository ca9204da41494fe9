"""confd's template functions, under confd's names and with confd's semantics, for Jinja2.

Key functions (`getv`, `gets`, `ls`, ...) read one resource's view of etcd: keys relative
to the resource prefix, values already decoded. Patterns are confd's globs (Go's
`path.Match`: `*` stops at `/`). Everything here is pure except the DNS, environment,
clock and file-existence lookups, which confd also offers.
"""

from __future__ import annotations

import base64
import json as _json
import os
import posixpath
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime as _datetime
from functools import cache
from typing import Any

from confpy.errors import MissingKeyError, RenderError


@dataclass(frozen=True, order=True)
class KVPair:
    """A key and its value, as confd's `get`/`gets` return them (`.Key`/`.Value` or lower case)."""

    key: str
    value: str

    @property
    def Key(self) -> str:
        return self.key

    @property
    def Value(self) -> str:
        return self.value


@dataclass(frozen=True)
class SRV:
    """One DNS SRV record, with confd's field names."""

    Target: str
    Port: int
    Priority: int
    Weight: int


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """Translate Go's path.Match syntax: `*` and `?` never match `/`; `[...]` classes."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                raise RenderError(f"bad glob pattern {pattern!r}: unclosed [")
            out.append(_glob_class(pattern, pattern[i + 1 : j]))
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _glob_class(pattern: str, body: str) -> str:
    """A `[...]` class as path.Match reads it: only `^` negates (`!` is a literal)."""
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    parts: list[str] = []
    k = 0
    while k < len(body):
        if body[k] == "\\" and k + 1 < len(body):
            k += 1
        lo = body[k]
        k += 1
        if k + 1 < len(body) and body[k] == "-":
            k += 1
            if body[k] == "\\" and k + 1 < len(body):
                k += 1
            hi = body[k]
            k += 1
            if hi < lo:
                raise RenderError(f"bad glob pattern {pattern!r}: bad range")
            parts.append(re.escape(lo) + "-" + re.escape(hi))
        else:
            parts.append(re.escape(lo))
    if not parts:
        raise RenderError(f"bad glob pattern {pattern!r}: empty class")
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


class KeyFunctions:
    """The memkv-style functions over one view: relative key -> decoded value."""

    def __init__(self, view: Mapping[str, str]) -> None:
        self._view = dict(view)

    def getv(self, key: str, *default: str) -> str:
        key = _clean(key)
        if key in self._view:
            return self._view[key]
        if default:
            return default[0]
        raise MissingKeyError(key)

    def get(self, key: str) -> KVPair:
        key = _clean(key)
        if key not in self._view:
            raise MissingKeyError(key)
        return KVPair(key, self._view[key])

    def exists(self, key: str) -> bool:
        return _clean(key) in self._view

    def gets(self, pattern: str) -> list[KVPair]:
        rx = _glob(_clean(pattern))
        return sorted(KVPair(k, v) for k, v in self._view.items() if rx.match(k))

    def getvs(self, pattern: str) -> list[str]:
        rx = _glob(_clean(pattern))
        return sorted(v for k, v in self._view.items() if rx.match(k))

    def ls(self, path: str) -> list[str]:
        return sorted(self._children(path, dirs_only=False))

    def lsdir(self, path: str) -> list[str]:
        return sorted(self._children(path, dirs_only=True))

    def _children(self, path: str, *, dirs_only: bool) -> set[str]:
        base = _clean(path)
        prefix = "/" if base == "/" else base + "/"
        names: set[str] = set()
        for k in self._view:
            if not k.startswith(prefix):
                continue
            rest = k[len(prefix) :]
            name, sep, _ = rest.partition("/")
            if name and (sep or not dirs_only):
                names.add(name)
        return names

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "getv": self.getv,
            "getvs": self.getvs,
            "get": self.get,
            "gets": self.gets,
            "ls": self.ls,
            "lsdir": self.lsdir,
            "exists": self.exists,
        }


def _clean(key: str) -> str:
    return "/" + "/".join(p for p in str(key).split("/") if p)


# confd's functions that do not read keys.


def _parse_json(function: str, data: str) -> Any:
    try:
        return _json.loads(data)
    except _json.JSONDecodeError as e:
        raise RenderError(
            f"{function}: value is not valid JSON ({e.msg} at position {e.pos})"
        ) from None
    except (TypeError, ValueError) as e:  # not a string, or bytes that are not UTF-8
        raise RenderError(f"{function}: value is not valid JSON ({e})") from None


def json(data: str) -> Any:
    value = _parse_json("json", data)
    if not isinstance(value, dict):
        raise RenderError("json: value is not a JSON object (use jsonArray for arrays)")
    return value


def json_array(data: str) -> list[Any]:
    value = _parse_json("jsonArray", data)
    if not isinstance(value, list):
        raise RenderError("jsonArray: value is not a JSON array")
    return value


def base(path: str) -> str:
    """Go's path.Base: the last element, `.` for empty, `/` for a root."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def dir(path: str) -> str:
    """Go's path.Dir: everything but the last element, cleaned."""
    head = path[: path.rfind("/") + 1] if "/" in path else ""
    cleaned = posixpath.normpath(head) if head else "."
    return "/" if cleaned == "//" else cleaned


def split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def join(items: Iterable[Any], sep: str) -> str:
    return sep.join(str(i) for i in items)


def replace(s: str, old: str, new: str, n: int = -1) -> str:
    return s.replace(old, new, n)


def atoi(s: str) -> int:
    """Go's strconv.Atoi: an optional sign and ASCII digits, nothing else, within int64."""
    text = str(s)
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit() or not -(2**63) <= int(text) < 2**63:
        raise RenderError(f"atoi: not an integer: {len(text)}-character string")
    return int(text)


def base64_encode(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def base64_decode(s: str) -> str:
    try:
        return base64.b64decode(s.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise RenderError("base64Decode: value is not valid base64 of UTF-8 text") from None


def getenv(name: str, *default: str) -> str:
    value = os.environ.get(name, "")
    if value == "" and default:
        return default[0]
    return value


def datetime() -> _datetime:
    return _datetime.now().astimezone()


def lookup_ip(name: str, family: int = 0) -> list[str]:
    """Addresses of `name`, sorted and unique, like confd's lookupIP (empty when unresolved)."""
    try:
        infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def lookup_ipv4(name: str) -> list[str]:
    return lookup_ip(name, socket.AF_INET)


def lookup_ipv6(name: str) -> list[str]:
    return lookup_ip(name, socket.AF_INET6)


def lookup_srv(service: str, proto: str, name: str) -> list[SRV]:
    """SRV records for `_service._proto.name`, sorted by priority then weight, as in confd."""
    try:
        import dns.exception
        import dns.resolver
    except ImportError:  # pragma: no cover - dnspython is a runtime dependency
        raise RenderError("lookupSRV needs the dnspython package") from None
    qname = f"_{service}._{proto}.{name}" if service or proto else name
    try:
        answer = dns.resolver.resolve(qname, "SRV")
    except dns.exception.DNSException:
        return []
    records = [
        SRV(str(r.target).rstrip("."), int(r.port), int(r.priority), int(r.weight)) for r in answer
    ]
    return sorted(records, key=lambda r: (r.Priority, -r.Weight, r.Target, r.Port))


def file_exists(path: str) -> bool:
    return os.path.exists(path)


def _go_case(s: str, upper: bool) -> str:
    """Go's strings.ToUpper/ToLower: one character to one (simple case mapping)."""
    if s.isascii():
        return s.upper() if upper else s.lower()
    out: list[str] = []
    for c in s:
        if "\ud800" <= c <= "\udfff":
            out.append("\ufffd")  # Go maps an invalid byte to U+FFFD
            continue
        m = c.upper() if upper else c.lower()
        if len(m) != 1:
            m = c.title() if upper else {"\u0130": "i"}.get(c, c)
            if len(m) != 1:
                m = c
        out.append(m)
    return "".join(out)


def to_upper(s: str) -> str:
    return _go_case(s, True)


def to_lower(s: str) -> str:
    return _go_case(s, False)


def contains(s: str, sub: str) -> bool:
    return sub in s


def trim_suffix(s: str, suffix: str) -> str:
    return s.removesuffix(suffix)


def parse_bool(s: str) -> bool:
    """Go's strconv.ParseBool."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise RenderError(f"parseBool: not a boolean: {s!r}")


def reverse(items: Any) -> Any:
    """A reversed copy of a list (or string, as confd's reverse accepts both)."""
    if isinstance(items, str):
        return items[::-1]
    return list(items)[::-1]


def sort_by_length(items: Iterable[str]) -> list[str]:
    """Shortest first; ties in the order Go's sort.Sort leaves them, as in confd."""
    from confpy.gotemplate.gosort import sort_sort

    out = list(items)
    sort_sort(out, lambda a, b: len(a.encode("utf-8", "surrogateescape"))
              < len(b.encode("utf-8", "surrogateescape")))
    return out


def sort_kv_by_length(items: Iterable[KVPair]) -> list[KVPair]:
    """Shortest key first; ties in the order Go's sort.Sort leaves them, as in confd."""
    from confpy.gotemplate.gosort import sort_sort

    out = list(items)
    sort_sort(out, lambda a, b: len(a.key.encode("utf-8", "surrogateescape"))
              < len(b.key.encode("utf-8", "surrogateescape")))
    return out


def make_map(*pairs: Any) -> dict[Any, Any]:
    """confd's `map "k1" v1 "k2" v2`."""
    if len(pairs) % 2:
        raise RenderError("map: needs an even number of arguments (key value ...)")
    out: dict[Any, Any] = {}
    for k, v in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(k, str):
            raise RenderError("map: keys must be strings")
        out[k] = v
    return out


def seq(first: int, last: int) -> list[int]:
    """confd's `seq 1 3` -> [1, 2, 3] (inclusive, like the Unix seq)."""
    return list(range(int(first), int(last) + 1))


def add(a: int, b: int) -> int:
    return _int64(int(a) + int(b))


def sub(a: int, b: int) -> int:
    return _int64(int(a) - int(b))


def mul(a: int, b: int) -> int:
    return _int64(int(a) * int(b))


def _int64(n: int) -> int:
    """Go's int is 64 bits: arithmetic wraps around."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def div(a: int, b: int) -> int:
    """Go integer division truncates toward zero."""
    if int(b) == 0:
        raise RenderError("div: division by zero")
    q = abs(int(a)) // abs(int(b))
    return q if (int(a) >= 0) == (int(b) >= 0) else -q


def mod(a: int, b: int) -> int:
    """Go's %: the result has the sign of the dividend."""
    if int(b) == 0:
        raise RenderError("mod: division by zero")
    return int(a) - div(a, b) * int(b)


STATIC_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": json,
    "jsonArray": json_array,
    "base": base,
    "dir": dir,
    "split": split,
    "join": join,
    "replace": replace,
    "atoi": atoi,
    "base64Encode": base64_encode,
    "base64Decode": base64_decode,
    "getenv": getenv,
    "datetime": datetime,
    "lookupIP": lookup_ip,
    "lookupIPV4": lookup_ipv4,
    "lookupIPV6": lookup_ipv6,
    "lookupSRV": lookup_srv,
    "fileExists": file_exists,
    "toUpper": to_upper,
    "toLower": to_lower,
    "contains": contains,
    "trimSuffix": trim_suffix,
    "parseBool": parse_bool,
    "reverse": reverse,
    "sortByLength": sort_by_length,
    "sortKVByLength": sort_kv_by_length,
    "map": make_map,
    "seq": seq,
    "add": add,
    "sub": sub,
    "mul": mul,
    "div": div,
    "mod": mod,
}
"""confd's functions that do not read etcd; `KeyFunctions.functions()` adds the ones that do."""

KEY_FUNCTION_NAMES = ("getv", "getvs", "get", "gets", "ls", "lsdir", "exists")
