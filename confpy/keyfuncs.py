"""confd's key functions for Jinja2: `getv`, `gets`, `ls`, ... over one resource's view.

The view holds keys relative to the resource prefix, values already decoded. Patterns are
confd's globs (Go's `path.Match`: `*` stops at `/`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from confpy.errors import MissingKeyError, RenderError
from confpy.keys import clean_key
from confpy.redact import describe


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


@lru_cache(maxsize=1024)  # bounded: a pattern may be built from a value
def glob_regex(pattern: str) -> re.Pattern[str]:
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
                raise RenderError(f"bad glob pattern ({describe(pattern)}): unclosed [")
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
                raise RenderError(f"bad glob pattern ({describe(pattern)}): bad range")
            parts.append(re.escape(lo) + "-" + re.escape(hi))
        else:
            parts.append(re.escape(lo))
    if not parts:
        raise RenderError(f"bad glob pattern ({describe(pattern)}): empty class")
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


class KeyFunctions:
    """The memkv-style functions over one view: relative key -> decoded value."""

    def __init__(self, view: Mapping[str, str]) -> None:
        # Stored keys are cleaned as confd stores them (`/a//b/` is `/a/b`), in key order.
        self._view = {clean_key(k): view[k] for k in sorted(view)}
        self.read: set[str] = set()
        """Keys whose values the template has read: what a failure's message is
        redacted against (see confpy.redact)."""

    def getv(self, key: str, *default: str) -> str:
        key = clean_key(str(key))
        if key in self._view:
            self.read.add(key)
            return self._view[key]
        if default:
            return default[0]
        raise MissingKeyError(key)

    def get(self, key: str) -> KVPair:
        key = clean_key(str(key))
        if key not in self._view:
            raise MissingKeyError(key)
        self.read.add(key)
        return KVPair(key, self._view[key])

    def exists(self, key: str) -> bool:
        return clean_key(str(key)) in self._view

    def gets(self, pattern: str) -> list[KVPair]:
        keys = self._matching(pattern)
        return sorted(KVPair(k, self._view[k]) for k in keys)

    def getvs(self, pattern: str) -> list[str]:
        return sorted(self._view[k] for k in self._matching(pattern))

    def _matching(self, pattern: str) -> list[str]:
        rx = glob_regex(clean_key(str(pattern)))
        keys = [k for k in self._view if rx.match(k)]
        self.read.update(keys)
        return keys

    def ls(self, path: str) -> list[str]:
        return sorted(self._children(path, dirs_only=False))

    def lsdir(self, path: str) -> list[str]:
        return sorted(self._children(path, dirs_only=True))

    def _children(self, path: str, *, dirs_only: bool) -> set[str]:
        base = clean_key(str(path))
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


KEY_FUNCTION_NAMES = ("getv", "getvs", "get", "gets", "ls", "lsdir", "exists")
