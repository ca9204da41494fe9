"""confd's `json` and `jsonArray`: JSON text decoded as Go's encoding/json decodes it.

Numbers are float64, null is nil, invalid UTF-8 and lone surrogates become U+FFFD, and every
error is in Go's words; nesting is capped at `limits.MAX_JSON_DEPTH` (Go allows 10000).
"""

from __future__ import annotations

import json as _json
from typing import Any

from confpy import limits
from confpy.gotemplate.values import NULL, GoError, NilMap, Slice


def json_value(data: str, what: str) -> Any:
    """`data` decoded as Go's encoding/json decodes into an interface{}, errors in Go's words."""

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
    except _json.JSONDecodeError as e:  # Go's words, never Python's
        if e.pos >= len(data.rstrip()):
            raise GoError("unexpected end of JSON input") from None
        raise GoError(f"invalid character at offset {e.pos} in JSON input") from None
    except RecursionError:
        raise GoError("json: exceeded max depth") from None
    return _fix_json(value)


def _fix_json(v: Any, depth: int = 0) -> Any:
    """Go replaces invalid UTF-8 and lone surrogates in JSON strings with U+FFFD."""
    if isinstance(v, str):
        return _replace_surrogates(v)
    if depth >= limits.MAX_JSON_DEPTH and isinstance(v, list | dict):
        raise GoError(f"json: nested deeper than {limits.MAX_JSON_DEPTH} levels")
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
    v = json_value(data, "object")
    if v is NULL:
        return NilMap()
    if not isinstance(v, dict):
        raise GoError("json: cannot unmarshal into Go value of type map[string]interface {}")
    return v


def json_array(data: str) -> Slice:
    v = json_value(data, "array")
    if v is NULL:
        return Slice([], "[]interface {}", nil=True)
    if not isinstance(v, list):
        raise GoError("json: cannot unmarshal into Go value of type []interface {}")
    return Slice(v, "[]interface {}")
