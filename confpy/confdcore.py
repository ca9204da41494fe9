"""confd's semantics both template engines share, with Python's types: what each engine's
functions (confpy.funcs for Jinja, confpy.gotemplate.confdfuncs for Go) adapt.

So far: strconv.ParseBool and sorting by byte length with Go's sort.Sort (confpy.gosort);
the key lookups and globs are still each engine's own (issue 21, item 2, continues).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from confpy.gosort import sort_sort

T = TypeVar("T")

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(s: str) -> bool:
    """Go's strconv.ParseBool; ValueError for anything else."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("invalid syntax")


def sort_by_byte_length(items: list[T], key: Callable[[T], str]) -> list[T]:
    """Shortest `key` (in UTF-8 bytes) first, in place; ties as Go's sort.Sort leaves them."""
    size: Callable[[T], int] = lambda x: len(key(x).encode("utf-8", "surrogateescape"))  # noqa: E731
    sort_sort(items, lambda a, b: size(a) < size(b))
    return items
