"""confd's template functions with Go's types and semantics, for the direct engine.

Each function carries its Go signature (`SIGNATURES`), so the evaluator can check
arguments the way text/template does (`add "1" 2` is an error). The key functions are
memkv's (confpy.golib.memkv, in Go's types by confpy.gotemplate.gomemkv). A failing function
raises GoError, which the evaluator reports as "error calling NAME: ...".
"""

from __future__ import annotations

import base64
import binascii
import os
import socket
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from confpy.golib import memkv as confdcore
from confpy.golib.path import path_base, path_dir
from confpy.golib.time import time_now
from confpy.gotemplate.gojson import json_array, json_object
from confpy.gotemplate.gomemkv import MemKV
from confpy.gotemplate.values import (
    NULL,
    GoError,
    Slice,
    from_bytes,
    go_bytes,
    wrap_int,
)

# confd's own functions (resource/template/template_funcs.go).


def create_map(*values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise GoError("invalid map call")
    out: dict[str, Any] = {}
    for k, v in zip(values[::2], values[1::2], strict=True):
        if not isinstance(k, str):
            raise GoError("map keys must be strings")
        out[k] = NULL if v is None else v
    return out


def getenv(key: str, *default: str) -> str:
    value = os.environ.get(key, "")
    if value == "":
        return default[0] if default else ""
    return value


def split(s: str, sep: str) -> Slice:
    if sep == "":
        # Go splits into UTF-8 sequences; an invalid byte becomes U+FFFD, except in the
        # last element, which is the rest of the string as it is.
        parts = list(s)
        fixed = ["\ufffd" if "\udc80" <= c <= "\udcff" else c for c in parts[:-1]]
        return Slice(fixed + parts[-1:], "[]string")
    return Slice(s.split(sep), "[]string")


def join(items: Slice, sep: str) -> str:
    return sep.join(items)


def to_upper(s: str) -> str:
    return confdcore.go_case(s, upper=True)


def to_lower(s: str) -> str:
    return confdcore.go_case(s, upper=False)


def contains(s: str, sub: str) -> bool:
    return go_bytes(sub) in go_bytes(s)


def replace(s: str, old: str, new: str, n: int) -> str:
    bs, bo, bn = go_bytes(s), go_bytes(old), go_bytes(new)
    if n == 0 or (bo == bn):
        return s
    if bo == b"":
        # Go inserts `new` before each UTF-8 sequence and at the end.
        chars = list(s)
        out: list[str] = []
        count = 0
        for c in chars:
            if n < 0 or count < n:
                out.append(new)
                count += 1
            out.append(c)
        if n < 0 or count < n:
            out.append(new)
        return "".join(out)
    return from_bytes(bs.replace(bo, bn, n if n >= 0 else -1))


def trim_suffix(s: str, suffix: str) -> str:
    b, x = go_bytes(s), go_bytes(suffix)
    return from_bytes(b[: len(b) - len(x)]) if x and b.endswith(x) else s


def lookup_ip(name: str, family: int = 0) -> Slice:
    try:
        infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return Slice([], "[]string", nil=True)  # confd returns a nil []string: `[]`
    return Slice(confdcore.go_sorted({str(i[4][0]) for i in infos}), "[]string")


def lookup_ipv4(name: str) -> Slice:
    ips: list[str] = lookup_ip(name)
    found = [ip for ip in ips if "." in ip]
    return Slice.appended(found, "[]string") if found else Slice([], "[]string", nil=True)


def lookup_ipv6(name: str) -> Slice:
    ips: list[str] = lookup_ip(name)
    found = [ip for ip in ips if ":" in ip]
    return Slice.appended(found, "[]string") if found else Slice([], "[]string", nil=True)


def lookup_srv(service: str, proto: str, name: str) -> Slice:
    from confpy.functions import (
        static as funcs,  # here: the Jinja functions (and Jinja) load for lookupSRV only
    )

    try:
        records = funcs.lookup_srv(service, proto, name)
    except Exception:
        return Slice([], "[]*net.SRV")
    return Slice(records, "[]*net.SRV")


def file_exists(p: str) -> bool:
    try:
        os.stat(go_bytes(p))
    except (OSError, ValueError):
        return False
    return True


def base64_encode(s: str) -> str:
    return base64.b64encode(go_bytes(s)).decode()


def base64_decode(s: str) -> str:
    data = go_bytes(s)
    # StdEncoding: padding required; CR and LF are ignored.
    cleaned = data.replace(b"\r", b"").replace(b"\n", b"")
    if len(cleaned) % 4:
        raise GoError("illegal base64 data")
    try:
        out = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise GoError("illegal base64 data") from None
    return from_bytes(out)  # non-canonical trailing bits are fine outside Go's strict mode


def parse_bool(s: str) -> bool:
    try:
        return confdcore.parse_bool(s)
    except ValueError:
        raise GoError(
            f"strconv.ParseBool: parsing a {len(s)}-character string: invalid syntax"
        ) from None


def reverse(values: Any) -> Any:
    if isinstance(values, Slice) and values.gotype in ("[]string", "[]memkv.KVPair"):
        values.reverse()
    return values


def sort_by_length(values: Slice) -> Slice:
    confdcore.sort_by_byte_length(values, str)
    return values


def sort_kv_by_length(values: Slice) -> Slice:
    confdcore.sort_by_byte_length(values, lambda kv: kv.Key)
    out = Slice(values, "[]memkv.KVPair", values.cap)
    return out


def seq(first: int, last: int) -> Slice:
    if last - first > 10_000_000:
        raise GoError("seq: sequence too long")
    return (
        Slice.appended(range(first, last + 1), "[]int")
        if last >= first
        else Slice([], "[]int", nil=True)
    )


def add(a: int, b: int) -> int:
    return wrap_int(a + b)


def sub(a: int, b: int) -> int:
    return wrap_int(a - b)


def mul(a: int, b: int) -> int:
    return wrap_int(a * b)


def div(a: int, b: int) -> int:
    if b == 0:
        raise GoError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return wrap_int(q if (a >= 0) == (b >= 0) else -q)


def mod(a: int, b: int) -> int:
    if b == 0:
        raise GoError("runtime error: integer divide by zero")
    return wrap_int(a - div(a, b) * b)


def atoi(s: str) -> int:
    """strconv.Atoi: optional sign and ASCII digits only, within int64."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not all("0" <= c <= "9" for c in body):
        raise GoError(f"strconv.Atoi: parsing a {len(s)}-character string: invalid syntax")
    v = int(s)
    if not -(1 << 63) <= v < 1 << 63:
        raise GoError("strconv.Atoi: value out of range")
    return v


def datetime_now() -> datetime:
    return time_now()


def url_query(s: str) -> str:
    return urllib.parse.quote_plus(go_bytes(s), safe="-_.~")


# Go signatures: parameter types, the variadic element type (or None), and what it returns.
Sig = tuple[tuple[str, ...], str | None]

SIGNATURES: dict[str, Sig] = {
    "base": (("string",), None),
    "split": (("string", "string"), None),
    "json": (("string",), None),
    "jsonArray": (("string",), None),
    "dir": (("string",), None),
    "map": ((), "any"),
    "getenv": (("string",), "string"),
    "join": (("[]string", "string"), None),
    "datetime": ((), None),
    "toUpper": (("string",), None),
    "toLower": (("string",), None),
    "contains": (("string", "string"), None),
    "replace": (("string", "string", "string", "int"), None),
    "trimSuffix": (("string", "string"), None),
    "lookupIP": (("string",), None),
    "lookupIPV4": (("string",), None),
    "lookupIPV6": (("string",), None),
    "lookupSRV": (("string", "string", "string"), None),
    "fileExists": (("string",), None),
    "base64Encode": (("string",), None),
    "base64Decode": (("string",), None),
    "parseBool": (("string",), None),
    "reverse": (("any",), None),
    "sortByLength": (("[]string",), None),
    "sortKVByLength": (("[]memkv.KVPair",), None),
    "add": (("int", "int"), None),
    "sub": (("int", "int"), None),
    "div": (("int", "int"), None),
    "mod": (("int", "int"), None),
    "mul": (("int", "int"), None),
    "seq": (("int", "int"), None),
    "atoi": (("string",), None),
    "exists": (("string",), None),
    "ls": (("string",), None),
    "lsdir": (("string",), None),
    "get": (("string",), None),
    "gets": (("string",), None),
    "getv": (("string",), "string"),
    "getvs": (("string",), None),
}

STATIC: dict[str, Callable[..., Any]] = {
    "base": path_base,
    "split": split,
    "json": json_object,
    "jsonArray": json_array,
    "dir": path_dir,
    "map": create_map,
    "getenv": getenv,
    "join": join,
    "datetime": datetime_now,
    "toUpper": to_upper,
    "toLower": to_lower,
    "contains": contains,
    "replace": replace,
    "trimSuffix": trim_suffix,
    "lookupIP": lambda name: lookup_ip(name),
    "lookupIPV4": lookup_ipv4,
    "lookupIPV6": lookup_ipv6,
    "lookupSRV": lookup_srv,
    "fileExists": file_exists,
    "base64Encode": base64_encode,
    "base64Decode": base64_decode,
    "parseBool": parse_bool,
    "reverse": reverse,
    "sortByLength": sort_by_length,
    "sortKVByLength": sort_kv_by_length,
    "add": add,
    "sub": sub,
    "div": div,
    "mod": mod,
    "mul": mul,
    "seq": seq,
    "atoi": atoi,
}


def key_functions(store: MemKV) -> dict[str, Callable[..., Any]]:
    return {
        "exists": store.exists,
        "ls": store.ls,
        "lsdir": store.lsdir,
        "get": store.get,
        "gets": store.gets,
        "getv": store.getv,
        "getvs": store.getvs,
    }


NAMES = frozenset(SIGNATURES)
