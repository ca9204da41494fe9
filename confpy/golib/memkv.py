"""confd's semantics both template engines share, on Python's types: one place for each rule.

A KVPair; memkv's store and its lookups (get, gets, getv, getvs, ls, lsdir, exists) with
Go's path.Match globs (confpy.golib.path); strings ordered by their bytes as Go orders
them; strconv.ParseBool; sorting by length with Go's sort.Sort (confpy.golib.sort); Go's
one-to-one upper and lower case. The engines adapt it: confpy.gotemplate.gomemkv gives
Go's slice types, confpy.functions.kv Jinja's cleaned keys and errors. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from confpy.golib.path import matcher, path_base, path_clean, path_dir
from confpy.golib.sort import sort_sort

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class KVPair:
    """memkv.KVPair: a key and its value (`.Key`/`.Value`; Jinja also reads `.key`/`.value`)."""

    Key: str
    Value: str

    @property
    def key(self) -> str:
        return self.Key

    @property
    def value(self) -> str:
        return self.Value

    def __repr__(self) -> str:  # what Jinja prints for `{{ kv }}`
        return f"KVPair(key={self.Key!r}, value={self.Value!r})"


class KeyNotFound(LookupError):
    """memkv's "key does not exist"; each engine reports it as MissingKeyError."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key does not exist: {key}")
        self.key = key


def byte_order(s: str) -> bytes:
    """The sort key of Go's string order: byte by byte (a surrogate escape is its byte)."""
    return s.encode("utf-8", "surrogateescape")


def go_sorted(items: Iterable[str]) -> list[str]:
    """sort.Strings."""
    return sorted(items, key=byte_order)


class KeyStore:
    """memkv.Store over one view of keys: looked up exactly as written (adapters clean)."""

    def __init__(self, view: Mapping[str, str]) -> None:
        self.m = dict(view)

    def get(self, key: str) -> KVPair:
        if key not in self.m:
            raise KeyNotFound(key)
        return KVPair(key, self.m[key])

    def exists(self, key: str) -> bool:
        return key in self.m

    def getv(self, key: str, *default: str) -> str:
        if key in self.m:
            return self.m[key]
        if default:
            return default[0]
        raise KeyNotFound(key)

    def matching(self, pattern: str) -> list[str]:
        """The keys `pattern` matches (path.Match; BadPattern when Go finds it bad)."""
        match = matcher(pattern)  # once per call, not per key
        return [k for k in self.m if match(k)]

    def gets(self, pattern: str) -> list[KVPair]:
        """The pairs whose key matches, in key order."""
        return [KVPair(k, self.m[k]) for k in sorted(self.matching(pattern), key=byte_order)]

    def getvs(self, pattern: str) -> list[str]:
        """The values of the keys that match, sorted."""
        return go_sorted(self.m[k] for k in self.matching(pattern))

    def ls(self, file_path: str) -> list[str]:
        """memkv's ls: the names under `file_path`, or its own name for a key (`[leaf]`)."""
        found: set[str] = set()
        prefix = path_clean(file_path).split("/")
        for k in self.m:
            if k == file_path:
                found.add(path_base(k))
                continue
            if _same_prefix(prefix, path_dir(k).split("/")):
                stripped = k.removeprefix(file_path).removeprefix("/")
                found.add(stripped.split("/")[0])
        return go_sorted(found)

    def lsdir(self, file_path: str) -> list[str]:
        """memkv's lsdir: the names under `file_path` that have keys below them."""
        found: set[str] = set()
        prefix = path_clean(file_path).split("/")
        for k in self.m:
            if k.startswith(file_path):
                items = path_dir(k).split("/")
                if _same_prefix(prefix, items) and len(items) - len(prefix) >= 1:
                    found.add(items[len(prefix)])
        return go_sorted(found)

    def children(self, path: str, *, dirs_only: bool) -> list[str]:
        """The names directly below a directory `path` (only those with keys below them
        when `dirs_only`): Jinja's ls/lsdir, where a leaf key lists nothing."""
        prefix = "/" if path == "/" else path + "/"
        names: set[str] = set()
        for k in self.m:
            if k.startswith(prefix):
                name, sep, _ = k[len(prefix) :].partition("/")
                if name and (sep or not dirs_only):
                    names.add(name)
        return go_sorted(names)


def _same_prefix(prefix: list[str], test: list[str]) -> bool:
    return len(test) >= len(prefix) and test[: len(prefix)] == prefix


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

    def size(x: T) -> int:
        return len(byte_order(key(x)))

    sort_sort(items, lambda a, b: size(a) < size(b))
    return items


def go_case(s: str, *, upper: bool) -> str:
    """Go's strings.ToUpper/ToLower: one character to one (simple case mapping); a byte
    that is not UTF-8 becomes U+FFFD, as Go maps an invalid byte."""
    if s.isascii():
        return s.upper() if upper else s.lower()
    out: list[str] = []
    for c in s:
        if "\ud800" <= c <= "\udfff":
            out.append("\ufffd")
            continue
        m = c.upper() if upper else c.lower()
        if len(m) != 1:
            m = c.title() if upper else {"\u0130": "i"}.get(c, c)
            if len(m) != 1:
                m = c
        out.append(m)
    return "".join(out)
