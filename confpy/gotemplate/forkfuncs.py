"""The maintained confd fork's added functions (abtreece/confd utility_funcs.go) over the
direct engine's Go values, with their Go signatures.

The string work is confpy.functions.fork_strings's and confpy.functions.fork_regex's,
JSON writing confpy.functions.fork_json's, shared with the Jinja adapter
(confpy.functions.fork_jinja); here are the Go types: a nil slice, NULL, typed slices,
and errors as GoError ("error calling NAME: ..."). `include` needs the engine
(confpy.gotemplate.goinclude).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from confpy import limits
from confpy.functions import fork_json as forkjson
from confpy.functions import fork_regex as forkregex
from confpy.functions import fork_strings as forkstrings
from confpy.golib import strconv as gostrconv
from confpy.golib.time import go_time_format
from confpy.gotemplate.confdfuncs import Sig, create_map
from confpy.gotemplate.gojson import json_value
from confpy.gotemplate.values import (
    NULL,
    GoError,
    KVPair,
    NilMap,
    Slice,
    Uint8,
    go_bytes,
    go_str_less_key,
)

ANY_MAP = "map[string]interface {}"
ANY_SLICE = "[]interface {}"


def is_empty(v: Any) -> bool:
    """The fork's isEmpty: nil, false, zero, an empty string/slice/map, a zero struct."""
    if v is None or v is NULL:
        return True
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float | complex):
        return v == 0
    if isinstance(v, str | list | dict):
        return len(v) == 0
    if isinstance(v, KVPair):
        return v.Key == "" and v.Value == ""
    return False  # a time, a *net.SRV, a *time.Location: never empty


def default(default_value: Any, value: Any) -> Any:
    return default_value if is_empty(value) else value


def ternary(true_value: Any, false_value: Any, condition: bool) -> Any:
    return true_value if condition else false_value


def coalesce(*values: Any) -> Any:
    return next((v for v in values if not is_empty(v)), None)


def _json_plain(v: Any) -> Any:
    """A Go value as encoding/json sees it: its JSON kind, or MarshalError."""
    if v is NULL or (isinstance(v, Slice | NilMap) and _is_nil(v)):
        return None
    if isinstance(v, Uint8) or (isinstance(v, int) and hasattr(v, "gotype")):
        return int(v)  # a byte, a time.Month: numbers
    if isinstance(v, complex):
        raise forkjson.MarshalError("json: unsupported type: complex128")
    if isinstance(v, KVPair):
        return {"Key": v.Key, "Value": v.Value}
    if isinstance(v, datetime):
        return go_time_format(v, "2006-01-02T15:04:05.999999999Z07:00")
    if type(v).__name__ == "SRV":
        return {"Target": v.Target, "Port": v.Port, "Priority": v.Priority, "Weight": v.Weight}
    if hasattr(v, "go_string"):
        return {}  # *time.Location: no exported fields
    return v


def _is_nil(v: Any) -> bool:
    return isinstance(v, NilMap) or bool(getattr(v, "nil", False))


def to_json(value: Any) -> str:
    try:
        return forkjson.marshal(value, _json_plain)
    except forkjson.MarshalError as e:
        raise GoError(str(e)) from None


def to_pretty_json(value: Any) -> str:
    try:
        return forkjson.marshal(value, _json_plain, "  ")
    except forkjson.MarshalError as e:
        raise GoError(str(e)) from None


def from_json(data: str) -> Any:
    if len(data) > limits.MAX_JSON_CHARS:
        raise GoError(f"json: value larger than {limits.MAX_JSON_CHARS} characters")
    value = json_value(data, "any")
    return None if value is NULL else value


def _strings(function: Callable[..., str]) -> Callable[..., str]:
    """A string function whose ValueError is Go's error."""

    def call(*args: Any) -> str:
        try:
            return function(*args)
        except ValueError as e:
            raise GoError(str(e)) from None

    return call


def nindent(spaces: int, s: str) -> str:
    return "\n" + forkstrings.indent(spaces, s)


def regex_match(pattern: str, s: str) -> bool:
    try:
        return forkregex.match(pattern, s)
    except ValueError as e:
        raise GoError(str(e)) from None


def trim_prefix(s: str, prefix: str) -> str:
    b, p = go_bytes(s), go_bytes(prefix)
    return b[len(p) :].decode("utf-8", "surrogateescape") if p and b.startswith(p) else s


def make_list(*values: Any) -> Slice:
    return Slice([NULL if v is None else v for v in values], ANY_SLICE, nil=not values)


def has_key(m: dict[str, Any], key: str) -> bool:
    return key in m


def keys(m: dict[str, Any]) -> Slice:
    return Slice(sorted(m, key=go_str_less_key), "[]string")


def values(m: dict[str, Any]) -> Slice:
    return Slice([m[k] for k in sorted(m, key=go_str_less_key)], ANY_SLICE)


def append(items: list[Any], value: Any) -> Slice:
    """Go's append: the capacity is kept while there is room, else (about) doubled."""
    cap = items.cap if isinstance(items, Slice) else len(items)
    n = len(items)
    new_cap = cap if cap > n else max(1, 2 * cap) if cap < 256 else cap + (cap + 768) // 4
    return Slice([*items, NULL if value is None else value], ANY_SLICE, new_cap)


def pluck(key: str, *maps: dict[str, Any]) -> Slice:
    found = [m[key] for m in maps if key in m]
    return Slice.appended(found, ANY_SLICE) if found else Slice([], ANY_SLICE, nil=True)


def sha256sum(s: str) -> str:
    return forkstrings.sha256sum(go_bytes(s))


def quote(s: str) -> str:
    return gostrconv.quote(s)


SIGNATURES: dict[str, Sig] = {
    "default": (("any", "any"), None),
    "ternary": (("any", "any", "bool"), None),
    "coalesce": ((), "any"),
    "empty": (("any",), None),
    "toJson": (("any",), None),
    "fromJson": (("string",), None),
    "toPrettyJson": (("any",), None),
    "indent": (("int", "string"), None),
    "nindent": (("int", "string"), None),
    "quote": (("string",), None),
    "squote": (("string",), None),
    "regexMatch": (("string", "string"), None),
    "regexFind": (("string", "string"), None),
    "regexReplaceAll": (("string", "string", "string"), None),
    "trimPrefix": (("string", "string"), None),
    "repeat": (("int", "string"), None),
    "nospace": (("string",), None),
    "snakecase": (("string",), None),
    "camelcase": (("string",), None),
    "kebabcase": (("string",), None),
    "dict": ((), "any"),
    "list": ((), "any"),
    "hasKey": ((ANY_MAP, "string"), None),
    "keys": ((ANY_MAP,), None),
    "values": ((ANY_MAP,), None),
    "append": ((ANY_SLICE, "any"), None),
    "pluck": (("string",), ANY_MAP),
    "sha256sum": (("string",), None),
    "lookupIfaceIPV4": (("string",), None),
    "lookupIfaceIPV6": (("string",), None),
    "include": (("string",), "any"),
}

STATIC: dict[str, Callable[..., Any]] = {
    "default": default,
    "ternary": ternary,
    "coalesce": coalesce,
    "empty": is_empty,
    "toJson": to_json,
    "fromJson": from_json,
    "toPrettyJson": to_pretty_json,
    "indent": _strings(forkstrings.indent),
    "nindent": _strings(nindent),
    "quote": quote,
    "squote": forkstrings.squote,
    "regexMatch": regex_match,
    "regexFind": _strings(forkregex.find),
    "regexReplaceAll": _strings(forkregex.replace_all),
    "trimPrefix": trim_prefix,
    "repeat": _strings(forkstrings.repeat),
    "nospace": forkstrings.nospace,
    "snakecase": forkstrings.snakecase,
    "camelcase": forkstrings.camelcase,
    "kebabcase": forkstrings.kebabcase,
    "dict": create_map,
    "list": make_list,
    "hasKey": has_key,
    "keys": keys,
    "values": values,
    "append": append,
    "pluck": pluck,
    "sha256sum": sha256sum,
    "lookupIfaceIPV4": forkstrings.iface_ipv4,
    "lookupIfaceIPV6": forkstrings.iface_ipv6,
}
"""Every fork function but `include`, which the engine binds per render."""
