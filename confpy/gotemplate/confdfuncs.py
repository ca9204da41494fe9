"""confd's template functions with Go's types and semantics, for the direct engine.

Each function carries its Go signature (`SIGNATURES`), so the evaluator can check
arguments the way text/template does (`add "1" 2` is an error). The key functions are
memkv's (kelseyhightower/memkv store.go): keys are looked up exactly as written, never
normalised; patterns are Go's path.Match. A failing function raises GoError, which the
evaluator reports as "error calling NAME: ...".
"""

from __future__ import annotations

import base64
import binascii
import json as _json
import os
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from confpy import funcs
from confpy.gotemplate.gosort import sort_sort
from confpy.gotemplate.values import (
    NULL,
    KVPair,
    NilMap,
    Slice,
    from_bytes,
    go_bytes,
    go_str_less_key,
    wrap_int,
)


class GoError(Exception):
    """A Go function returned an error (or panicked)."""


# Go's path package.


def path_clean(p: str) -> str:
    if p == "":
        return "."
    rooted = p[0] == "/"
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    s = "/".join(parts)
    if rooted:
        s = "/" + s
    return s or "."


def path_dir(p: str) -> str:
    i = p.rfind("/")
    return path_clean(p[: i + 1])


def path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    i = p.rfind("/")
    return p[i + 1 :] if i >= 0 else p


def path_join(*elems: str) -> str:
    joined = "/".join(e for e in elems if e != "")
    return path_clean(joined) if joined else ""


class MissingKey(GoError):
    """memkv's "key does not exist": confpy reports it as MissingKeyError."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key does not exist: {key}")
        self.key = key


class BadPattern(GoError):
    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: only `^` negates a class; `*` and `?` never match `/`."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name
        t, ok = _match_chunk(chunk, name)
        if ok and (len(t) == 0 or len(pattern) > 0):
            name = t
            continue
        if star:
            matched = False
            i = 0
            while i < len(name) and name[i] != "/":
                t, ok = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if len(pattern) == 0 and len(t) > 0:
                        i += 1
                        continue
                    name = t
                    matched = True
                    break
                i += 1
            if matched:
                continue
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return len(name) == 0


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern and pattern[0] == "*":
        pattern = pattern[1:]
        star = True
    inrange = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            inrange = True
        elif c == "]":
            inrange = False
        elif c == "*" and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    failed = False
    while chunk:
        if not failed and len(s) == 0:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r = s[0]
                s = s[1:]
            chunk, in_class = _match_class(chunk[1:], r, failed)
            if not in_class:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _match_class(chunk: str, r: str, failed: bool) -> tuple[str, bool]:
    """`[...]` after its `[`: the pattern after the `]`, and whether `r` is in the class
    (checked to the end even when the match already `failed`, so a bad pattern is found)."""
    negated = False
    if chunk and chunk[0] == "^":
        negated = True
        chunk = chunk[1:]
    match = False
    nrange = 0
    while True:
        if chunk and chunk[0] == "]" and nrange > 0:
            chunk = chunk[1:]
            break
        lo, chunk = _get_esc(chunk)
        hi = lo
        if chunk[0] == "-":
            hi, chunk = _get_esc(chunk[1:])
        if not failed and lo <= _rune(r) <= hi:
            match = True
        nrange += 1
    return chunk, match != negated


def _rune(c: str) -> int:
    o = ord(c)
    return 0xFFFD if 0xDC80 <= o <= 0xDCFF else o


def _get_esc(chunk: str) -> tuple[int, str]:
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    r = chunk[0]
    if 0xDC80 <= ord(r) <= 0xDCFF:
        raise BadPattern()
    chunk = chunk[1:]
    if not chunk:
        raise BadPattern()
    return ord(r), chunk


# memkv.


def _sorted_strings(items: list[str]) -> list[str]:
    return sorted(items, key=go_str_less_key)


class MemKV:
    """memkv.Store over one resource's keys (already cleaned with path.Join("/", key))."""

    def __init__(self, view: Mapping[str, str]) -> None:
        self.m = dict(view)

    def get(self, key: str) -> KVPair:
        if key not in self.m:
            raise MissingKey(key)
        return KVPair(key, self.m[key])

    def exists(self, key: str) -> bool:
        return key in self.m

    def getv(self, key: str, *default: str) -> str:
        if key in self.m:
            return self.m[key]
        if default:
            return default[0]
        raise MissingKey(key)

    def gets(self, pattern: str) -> Slice:
        ks = [KVPair(k, v) for k, v in self.m.items() if path_match(pattern, k)]
        ks.sort(key=lambda kv: go_str_less_key(kv.Key))
        return Slice.appended(ks, "memkv.KVPairs")

    def getvs(self, pattern: str) -> Slice:
        vs = [kv.Value for kv in self.gets(pattern)]
        return Slice.appended(_sorted_strings(vs), "[]string")

    def ls(self, file_path: str) -> Slice:
        found: set[str] = set()
        prefix = path_clean(file_path).split("/")
        for k in self.m:
            if k == file_path:
                found.add(path_base(k))
                continue
            target = path_dir(k).split("/")
            if _same_prefix(prefix, target):
                stripped = k.removeprefix(file_path).removeprefix("/")
                found.add(stripped.split("/")[0])
        return Slice.appended(_sorted_strings(list(found)), "[]string")

    def lsdir(self, file_path: str) -> Slice:
        found: set[str] = set()
        prefix = path_clean(file_path).split("/")
        for k in self.m:
            if k.startswith(file_path):
                items = path_dir(k).split("/")
                if _same_prefix(prefix, items) and len(items) - len(prefix) >= 1:
                    found.add(items[len(prefix)])
        return Slice.appended(_sorted_strings(list(found)), "[]string")


def _same_prefix(prefix: list[str], test: list[str]) -> bool:
    return len(test) >= len(prefix) and test[: len(prefix)] == prefix


def store_view(relative: Mapping[str, str]) -> dict[str, str]:
    """confd's setVars: each key relative to the prefix, path.Join'ed onto `/`."""
    out: dict[str, str] = {}
    for k in sorted(relative):
        out[path_join("/", k)] = relative[k]
    return out


# confd's own functions (resource/template/template_funcs.go).


def _json_value(data: str, what: str) -> Any:
    def num(s: str) -> float:
        try:
            v = float(s)
        except (OverflowError, ValueError):
            raise GoError("json: cannot unmarshal a number into Go value of type float64") from None
        if v in (float("inf"), float("-inf")):
            raise GoError("json: cannot unmarshal a number into Go value of type float64")
        return v

    def const(s: str) -> Any:
        raise GoError("json: invalid character looking for beginning of value")

    try:
        value = _json.loads(data, parse_float=num, parse_int=num, parse_constant=const)
    except _json.JSONDecodeError as e:
        raise GoError(f"json: {e.msg} at offset {e.pos}") from None
    except RecursionError:
        raise GoError("json: exceeded max depth") from None
    return _fix_json(value)


MAX_JSON_DEPTH = 100
"""Deepest JSON nesting confpy accepts (Go's decoder allows 10000)."""


def _fix_json(v: Any, depth: int = 0) -> Any:
    """Go replaces invalid UTF-8 and lone surrogates in JSON strings with U+FFFD."""
    if isinstance(v, str):
        return _replace_surrogates(v)
    if depth >= MAX_JSON_DEPTH and isinstance(v, list | dict):
        raise GoError(f"json: nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(v, list):
        return Slice([_fix_json(x, depth + 1) for x in v], "[]interface {}")
    if isinstance(v, dict):
        return {_replace_surrogates(k): _fix_json(x, depth + 1) for k, x in v.items()}
    if v is None:
        return NULL
    return v


def _replace_surrogates(s: str) -> str:
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return s
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def json_object(data: str) -> dict[str, Any]:
    v = _json_value(data, "object")
    if v is NULL:
        return NilMap()
    if not isinstance(v, dict):
        raise GoError("json: cannot unmarshal into Go value of type map[string]interface {}")
    return v


def json_array(data: str) -> Slice:
    v = _json_value(data, "array")
    if v is NULL:
        return Slice([], "[]interface {}", nil=True)
    if not isinstance(v, list):
        raise GoError("json: cannot unmarshal into Go value of type []interface {}")
    return Slice(v, "[]interface {}")


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
    return funcs.to_upper(s)


def to_lower(s: str) -> str:
    return funcs.to_lower(s)


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
        for i, c in enumerate(chars):
            if n < 0 or count < n:
                out.append(new)
                count += 1
            out.append(c)
            _ = i
        if n < 0 or count < n:
            out.append(new)
        return "".join(out)
    return from_bytes(bs.replace(bo, bn, n if n >= 0 else -1))


def trim_suffix(s: str, suffix: str) -> str:
    b, x = go_bytes(s), go_bytes(suffix)
    return from_bytes(b[: len(b) - len(x)]) if x and b.endswith(x) else s


def lookup_ip(name: str, family: int = 0) -> Slice | None:
    try:
        infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    return Slice(_sorted_strings(sorted({str(i[4][0]) for i in infos})), "[]string")


def lookup_ipv4(name: str) -> Slice:
    ips: list[str] = lookup_ip(name) or []
    found = [ip for ip in ips if "." in ip]
    return Slice.appended(found, "[]string") if found else Slice([], "[]string", nil=True)


def lookup_ipv6(name: str) -> Slice:
    ips: list[str] = lookup_ip(name) or []
    found = [ip for ip in ips if ":" in ip]
    return Slice.appended(found, "[]string") if found else Slice([], "[]string", nil=True)


def lookup_srv(service: str, proto: str, name: str) -> Slice:
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
    if base64.b64encode(out) != cleaned:
        # Go rejects non-canonical trailing bits only in strict mode; StdEncoding accepts them.
        pass
    return from_bytes(out)


def parse_bool(s: str) -> bool:
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise GoError(f"strconv.ParseBool: parsing a {len(s)}-character string: invalid syntax")


def reverse(values: Any) -> Any:
    if isinstance(values, Slice) and values.gotype in ("[]string", "[]memkv.KVPair"):
        values.reverse()
    return values


def sort_by_length(values: Slice) -> Slice:
    sort_sort(values, lambda a, b: len(go_bytes(a)) < len(go_bytes(b)))
    return values


def sort_kv_by_length(values: Slice) -> Slice:
    sort_sort(values, lambda a, b: len(go_bytes(a.Key)) < len(go_bytes(b.Key)))
    out = Slice(values, "[]memkv.KVPair", values.cap)
    return out


def seq(first: int, last: int) -> Slice:
    if last - first > 10_000_000:
        raise GoError("seq: sequence too long")
    return Slice.appended(range(first, last + 1), "[]int") if last >= first else Slice(
        [], "[]int", nil=True
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
    return datetime.now().astimezone()


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
