"""The maintained confd fork's functions (abtreece/confd) for Jinja2, under the fork's names.

Only the names Jinja does not already have: `include` is Jinja's statement, `default`,
`list` and `indent` its filters and `dict` its global, each with its own meaning, so
those stay Jinja's. The semantics are the Go engine's (confpy.functions.fork_strings, forkregex,
forkjson), over Jinja's values: an undefined value is empty, a KVPair has Key and Value.
Errors are one-line RenderErrors naming the function, never a value.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import jinja2

from confpy import limits
from confpy.errors import RenderError
from confpy.functions import fork_json as forkjson
from confpy.functions import fork_regex as forkregex
from confpy.functions import fork_strings as forkstrings
from confpy.golib import strconv as gostrconv
from confpy.golib.memkv import KVPair


def empty(value: Any) -> bool:
    """The fork's isEmpty: undefined, None, false, zero, an empty string, list or map."""
    if value is None or isinstance(value, jinja2.Undefined):
        return True
    if isinstance(value, bool | int | float | complex):
        return value == 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    if isinstance(value, KVPair):
        return value.key == "" and value.value == ""
    return False


def ternary(true_value: Any, false_value: Any, condition: Any) -> Any:
    if not isinstance(condition, bool):
        raise RenderError("ternary: the condition is not a boolean")
    return true_value if condition else false_value


def coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


def _plain(v: Any) -> Any:
    if isinstance(v, jinja2.Undefined):
        return None
    if isinstance(v, KVPair):
        return {"Key": v.key, "Value": v.value}
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Mapping) and not isinstance(v, dict):
        return dict(v)
    if isinstance(v, complex):
        raise forkjson.MarshalError("json: unsupported type: complex128")
    return v


def to_json(value: Any) -> str:
    try:
        return forkjson.marshal(value, _plain)
    except forkjson.MarshalError as e:
        raise RenderError(f"toJson: {e}") from None


def to_pretty_json(value: Any) -> str:
    try:
        return forkjson.marshal(value, _plain, "  ")
    except forkjson.MarshalError as e:
        raise RenderError(f"toPrettyJson: {e}") from None


def from_json(data: Any) -> Any:
    """Any JSON value; numbers are floats, as Go's interface{} holds them."""
    if not isinstance(data, str):
        raise RenderError("fromJson: the value is not a string")
    limits.check_json_text("fromJson", data)
    try:
        return _json.loads(data, parse_int=float, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise RenderError(f"fromJson: not valid JSON ({len(data)}-character string)") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _text(function: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RenderError(f"{function}: argument is not a string")
    return value


def _count(function: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RenderError(f"{function}: count is not an integer")
    return value


def _checked(function: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ValueError as e:
        raise RenderError(f"{function}: {e}") from None


def nindent(spaces: Any, s: Any) -> str:
    n, text = _count("nindent", spaces), _text("nindent", s)
    return "\n" + str(_checked("nindent", lambda: forkstrings.indent(n, text)))


def quote(s: Any) -> str:
    return gostrconv.quote(_text("quote", s))  # Go's %q


def regex_match(pattern: Any, s: Any) -> bool:
    p, text = _text("regexMatch", pattern), _text("regexMatch", s)
    return bool(_checked("regexMatch", lambda: forkregex.match(p, text)))


def regex_find(pattern: Any, s: Any) -> str:
    p, text = _text("regexFind", pattern), _text("regexFind", s)
    return str(_checked("regexFind", lambda: forkregex.find(p, text)))


def regex_replace_all(pattern: Any, s: Any, repl: Any) -> str:
    p, text, r = (_text("regexReplaceAll", x) for x in (pattern, s, repl))
    return str(_checked("regexReplaceAll", lambda: forkregex.replace_all(p, text, r)))


def _map(function: str, m: Any) -> Mapping[str, Any]:
    if not isinstance(m, Mapping):
        raise RenderError(f"{function}: argument is not a map")
    return m


def has_key(m: Any, key: Any) -> bool:
    return key in _map("hasKey", m)


def keys(m: Any) -> list[str]:
    return sorted(_map("keys", m), key=lambda k: str(k).encode("utf-8", "surrogateescape"))


def values(m: Any) -> list[Any]:
    mapping = _map("values", m)
    return [mapping[k] for k in keys(mapping)]


def append(items: Any, value: Any) -> list[Any]:
    if not isinstance(items, list | tuple):
        raise RenderError("append: first argument is not a list")
    return [*items, value]


def pluck(key: Any, *maps: Any) -> list[Any]:
    return [m[key] for m in (_map("pluck", m) for m in maps) if key in m]


FORK_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ternary": ternary,
    "coalesce": coalesce,
    "empty": empty,
    "hasKey": has_key,
    "keys": keys,
    "values": values,
    "append": append,
    "pluck": pluck,
    "toJson": to_json,
    "fromJson": from_json,
    "toPrettyJson": to_pretty_json,
    "nindent": nindent,
    "quote": quote,
    "squote": lambda s: forkstrings.squote(_text("squote", s)),
    "regexMatch": regex_match,
    "regexFind": regex_find,
    "regexReplaceAll": regex_replace_all,
    "trimPrefix": lambda s, p: _text("trimPrefix", s).removeprefix(_text("trimPrefix", p)),
    "repeat": lambda n, s: _checked(
        "repeat", lambda: forkstrings.repeat(_count("repeat", n), _text("repeat", s))
    ),
    "nospace": lambda s: forkstrings.nospace(_text("nospace", s)),
    "snakecase": lambda s: forkstrings.snakecase(_text("snakecase", s)),
    "camelcase": lambda s: forkstrings.camelcase(_text("camelcase", s)),
    "kebabcase": lambda s: forkstrings.kebabcase(_text("kebabcase", s)),
    "sha256sum": lambda s: forkstrings.sha256sum(
        _text("sha256sum", s).encode("utf-8", "surrogateescape")
    ),
    "lookupIfaceIPV4": lambda name: forkstrings.iface_ipv4(_text("lookupIfaceIPV4", name)),
    "lookupIfaceIPV6": lambda name: forkstrings.iface_ipv6(_text("lookupIfaceIPV6", name)),
}
"""The fork's functions Jinja gets (see the module docstring for the four it keeps)."""
