"""text/template's builtin functions (funcs.go) over the engine's values: and, or, not, len,
index, slice, print/printf/println, the comparisons, html, js, urlquery and call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confpy.golib.unicode import go_is_print
from confpy.gotemplate import gofmt
from confpy.gotemplate.confdfuncs import url_query
from confpy.gotemplate.values import (
    NULL,
    GoError,
    NilMap,
    Slice,
    Uint8,
    go_bytes,
    kind,
    type_name,
)


def is_true(val: Any) -> tuple[bool, bool]:
    """text/template's truth: (is the value true, could it be judged)."""
    if val is None or val is NULL:
        return False, True
    if isinstance(val, bool):
        return val, True
    if isinstance(val, int | float | complex):
        return val != 0, True
    if isinstance(val, str | list | dict):
        return len(val) > 0, True
    return True, True


def _indirect(v: Any) -> Any:
    return None if v is NULL else v


def _basic_kind(v: Any) -> str:
    k = kind(v)
    if k in ("bool", "int", "uint", "float", "complex", "string"):
        return k
    return "invalid"


def _eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = _indirect(arg1)
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        arg = _indirect(arg)
        k2 = _basic_kind(arg)
        truth = False
        if k1 != k2:
            if (k1 == "int" and k2 == "uint") or (k1 == "uint" and k2 == "int"):
                truth = arg1 == arg
            elif arg1 is not None and arg is not None:
                raise GoError("incompatible types for comparison")
        elif k1 == "invalid":
            if _is_nil(arg1) or _is_nil(arg):
                truth = _is_nil(arg1) == _is_nil(arg)
            else:
                if isinstance(arg1, list | dict) or isinstance(arg, list | dict):
                    raise GoError("non-comparable types")
                if type_name(arg1) != type_name(arg):
                    raise GoError("non-comparable types")
                truth = arg1 == arg
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _is_nil(v: Any) -> bool:
    return v is None or v is NULL or isinstance(v, NilMap) or getattr(v, "nil", False) is True


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    a, b = _indirect(a), _indirect(b)
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise GoError("invalid type for comparison")
    if k1 != k2:
        if k1 in ("int", "uint") and k2 in ("int", "uint"):
            return bool(a < b)
        raise GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise GoError("invalid type for comparison")
    if k1 == "string":
        return go_bytes(a) < go_bytes(b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _not(a: Any) -> bool:
    return not is_true(_indirect(a))[0]


def _len(item: Any) -> int:
    item = _indirect(item)
    if isinstance(item, str):
        return len(go_bytes(item))
    if isinstance(item, list | dict):
        return len(item)
    raise GoError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    index = _indirect(index)
    if isinstance(index, bool) or not isinstance(index, int):
        if index is None:
            raise GoError("cannot index slice/array with nil")
        raise GoError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise GoError(f"index out of range: {index}")
    return int(index)


def _index(item: Any, *indexes: Any) -> Any:
    item = _indirect(item)
    if item is None:
        raise GoError("index of untyped nil")
    for index in indexes:
        index = _indirect(index)
        if item is NULL or item is None:
            raise GoError("index of nil pointer")
        if isinstance(item, str | list):
            seq: Any = go_bytes(item) if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x >= len(seq):
                raise GoError(f"index out of range: {x}")
            item = Uint8(seq[x]) if isinstance(item, str) else seq[x]
        elif isinstance(item, dict):
            if index is None:  # Go's prepareArg: nil is no string key
                raise GoError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise GoError(f"value has type {type_name(index)}; should be string")
            item = item.get(index, NULL)
        else:
            raise GoError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    item = _indirect(item)
    if item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        data = go_bytes(item)
        cap = len(data)
        length = cap
    elif isinstance(item, list):
        cap = item.cap if isinstance(item, Slice) else len(item)
        length = len(item)
    else:
        raise GoError(f"can't slice item of type {type_name(item)}")
    idx = [0, length, 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if isinstance(item, str):
        return data[idx[0] : idx[1]].decode("utf-8", "surrogateescape")
    gotype = item.gotype if isinstance(item, Slice) else "[]interface {}"
    full = item.array() if isinstance(item, Slice) else list(item)
    if len(indexes) < 3:
        return Slice.window(full, idx[0], idx[1], cap, gotype)
    if idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    return Slice.window(full, idx[0], idx[1], idx[2], gotype)


def _eval_args(args: tuple[Any, ...]) -> str:
    """text/template's evalArgs: fmt.Sprint, except that a nil prints `<no value>`."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(*("<no value>" if a is None or a is NULL else a for a in args))


def _html(*args: Any) -> str:
    s = _eval_args(args)
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def _js(*args: Any) -> str:
    s = _eval_args(args)
    out: list[str] = []
    for c in s:
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == '"':
            out.append('\\"')
        elif c == "<":
            out.append("\\u003C")
        elif c == ">":
            out.append("\\u003E")
        elif c == "&":
            out.append("\\u0026")
        elif c == "=":
            out.append("\\u003D")
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o < 0x80:
            out.append(c)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(c)  # an invalid byte decodes as U+FFFD, printable: written as is
        elif go_is_print(c):
            out.append(c)
        else:
            out.append(f"\\u{o:04X}")
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return url_query(_eval_args(args))


def _call(fn: Any, *args: Any) -> Any:
    raise GoError(f"non-function of type {type_name(fn)}")


BUILTIN_FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": gofmt.sprint,
    "printf": gofmt.sprintf,
    "println": gofmt.sprintln,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
}
