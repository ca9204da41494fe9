"""confd's template functions that read no keys, under confd's names and semantics, for Jinja2.

The key functions (`getv`, `gets`, `ls`, ...) are in `confpy.functions.kv`. Everything here is
pure except the DNS, environment, clock and file-existence lookups, which confd also offers.
"""

from __future__ import annotations

import base64
import json as _json
import os
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime as _datetime
from typing import Any

from confpy import limits
from confpy.errors import RenderError
from confpy.functions.fork_jinja import FORK_FUNCTIONS
from confpy.golib import memkv as confdcore
from confpy.golib.memkv import KVPair
from confpy.golib.path import path_base, path_dir
from confpy.redact import describe


@dataclass(frozen=True)
class SRV:
    """One DNS SRV record, with confd's field names."""

    Target: str
    Port: int
    Priority: int
    Weight: int


# confd's functions that do not read keys.


def _parse_json(function: str, data: str) -> Any:
    if not isinstance(data, str):
        raise RenderError(f"{function}: value is not valid JSON (not a string: {describe(data)})")
    limits.check_json_text(function, data)
    try:
        return _json.loads(data, object_pairs_hook=_json_object, parse_constant=_no_constant)
    except _json.JSONDecodeError as e:
        raise RenderError(
            f"{function}: value is not valid JSON ({e.msg} at position {e.pos})"
        ) from None
    except ValueError as e:  # a number with more digits than Python converts
        raise RenderError(f"{function}: value is not valid JSON ({e})") from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {_no_surrogates(k): _no_surrogates(v) for k, v in pairs}


def _no_surrogates(value: Any) -> Any:
    """A JSON escape such as `\\ud800` names no character: U+FFFD, as Go decodes it.

    Surrogate escapes of raw bytes (U+DC80..U+DCFF from a non-UTF-8 value) are kept:
    they are written back as the same bytes.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    return value


def _no_constant(name: str) -> Any:
    raise _json.JSONDecodeError(f"{name} is not JSON", name, 0)


_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def json(data: str) -> Any:
    value = _no_surrogates(_parse_json("json", data))
    if value is None:
        return {}  # JSON null decodes to an empty (nil) map in confd
    if not isinstance(value, dict):
        raise RenderError("json: value is not a JSON object (use jsonArray for arrays)")
    return value


def json_array(data: str) -> list[Any]:
    value = _no_surrogates(_parse_json("jsonArray", data))
    if value is None:
        return []  # JSON null decodes to an empty (nil) slice in confd
    if not isinstance(value, list):
        raise RenderError("jsonArray: value is not a JSON array")
    return value


def base(path: str) -> str:
    """Go's path.Base: the last element, `.` for empty, `/` for a root."""
    return path_base(path)


def dir(path: str) -> str:
    """Go's path.Dir: everything but the last element, cleaned (`//a/b` is `/a`)."""
    return path_dir(path)


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
    if (
        not body
        or len(body) > 19  # beyond int64 whatever the digits; int() would refuse 4,300+
        or not body.isascii()
        or not body.isdigit()
        or not -(2**63) <= int(text) < 2**63
    ):
        raise RenderError(f"atoi: not an integer: {len(text)}-character string")
    return int(text)


def base64_encode(s: str) -> str:
    return base64.b64encode(str(s).encode("utf-8", "surrogateescape")).decode()


def base64_decode(s: str) -> str:
    """Decoded bytes that are not UTF-8 come back as surrogate escapes: written as is."""
    try:
        raw = base64.b64decode(str(s).encode("utf-8", "surrogateescape"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise RenderError(f"base64Decode: not valid base64: {describe(s)}") from None
    return raw.decode("utf-8", "surrogateescape")


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
    except (OSError, UnicodeError, ValueError):  # unresolved, or not a host name at all
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
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return []
    records = [
        SRV(str(r.target).rstrip("."), int(r.port), int(r.priority), int(r.weight)) for r in answer
    ]
    return sorted(records, key=lambda r: (r.Priority, -r.Weight, r.Target, r.Port))


def file_exists(path: str) -> bool:
    return os.path.exists(path)


def to_upper(s: str) -> str:
    return confdcore.go_case(s, upper=True)


def to_lower(s: str) -> str:
    return confdcore.go_case(s, upper=False)


def contains(s: str, sub: str) -> bool:
    return sub in s


def trim_suffix(s: str, suffix: str) -> str:
    return s.removesuffix(suffix)


def parse_bool(s: str) -> bool:
    """Go's strconv.ParseBool."""
    try:
        return confdcore.parse_bool(s)
    except ValueError:
        raise RenderError(f"parseBool: not a boolean: {describe(s)}") from None


def reverse(items: Any) -> Any:
    """A reversed copy of a list (or string, as confd's reverse accepts both)."""
    if isinstance(items, str):
        return items[::-1]
    return list(items)[::-1]


def sort_by_length(items: Iterable[str]) -> list[str]:
    """Shortest first; ties in the order Go's sort.Sort leaves them, as in confd."""
    return confdcore.sort_by_byte_length(list(items), str)


def sort_kv_by_length(items: Iterable[KVPair]) -> list[KVPair]:
    """Shortest key first; ties in the order Go's sort.Sort leaves them, as in confd."""
    return confdcore.sort_by_byte_length(list(items), lambda kv: kv.key)


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
    lo, hi = _int("seq", first), _int("seq", last)
    limits.check_sequence("seq", hi - lo + 1)
    return list(range(lo, hi + 1))


def _int(function: str, value: Any) -> int:
    """An integer argument; a string of digits is accepted as Go templates' callers pass them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip(), 10)
    except ValueError:
        raise RenderError(f"{function}: not an integer: {describe(value)}") from None


def add(a: int, b: int) -> int:
    return _int64(_arg64("add", a) + _arg64("add", b))


def sub(a: int, b: int) -> int:
    return _int64(_arg64("sub", a) - _arg64("sub", b))


def mul(a: int, b: int) -> int:
    return _int64(_arg64("mul", a) * _arg64("mul", b))


def _arg64(function: str, value: Any) -> int:
    """An integer argument that fits Go's 64-bit int (confd's functions take int)."""
    n = _int(function, value)
    if not -(1 << 63) <= n < 1 << 63:
        raise RenderError(f"{function}: integer out of the 64-bit range: {describe(value)}")
    return n


def _int64(n: int) -> int:
    """Go's int is 64 bits: arithmetic wraps around."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def div(a: int, b: int) -> int:
    """Go integer division truncates toward zero."""
    x, y = _int("div", a), _int("div", b)
    if y == 0:
        raise RenderError("div: division by zero")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def mod(a: int, b: int) -> int:
    """Go's %: the result has the sign of the dividend."""
    x, y = _int("mod", a), _int("mod", b)
    if y == 0:
        raise RenderError("mod: division by zero")
    return x - div(x, y) * y


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
    **FORK_FUNCTIONS,  # the maintained fork's (abtreece/confd), where Jinja has no such name
}
"""confd's functions that do not read etcd, and the fork's; `KeyFunctions.functions()` adds
the ones that do."""
