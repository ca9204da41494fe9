"""confd's key functions for Jinja2: `getv`, `gets`, `ls`, ... over one resource's view.

The lookups are confpy.golib.memkv's (memkv's store, Go's path.Match globs: `*` stops at
`/`), shared with the Go engine. What Jinja adds: keys and patterns are cleaned as confd
stores keys (`/a//b/` is `/a/b`), `ls`/`lsdir` list a directory's children (a leaf key
lists nothing), a missing key is a MissingKeyError, and the keys read are remembered for
redaction. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from confpy.config.keys import clean_key
from confpy.errors import MissingKeyError, RenderError
from confpy.golib.memkv import KeyNotFound, KeyStore
from confpy.golib.memkv import KVPair as KVPair  # the pair both engines return
from confpy.golib.path import BadPattern, matcher, path_match
from confpy.redact import describe


class KeyFunctions:
    """The memkv-style functions over one view: relative key -> decoded value."""

    def __init__(self, view: Mapping[str, str]) -> None:
        # Stored keys are cleaned as confd stores them (`/a//b/` is `/a/b`), in key order.
        self._store = KeyStore({clean_key(k): view[k] for k in sorted(view)})
        self.read: set[str] = set()
        """Keys whose values the template has read: what a failure's message is
        redacted against (see confpy.redact)."""

    def getv(self, key: str, *default: str) -> str:
        key = clean_key(str(key))
        try:
            value = self._store.getv(key, *default[:1])
        except KeyNotFound:
            raise MissingKeyError(key) from None
        if self._store.exists(key):
            self.read.add(key)
        return value

    def get(self, key: str) -> KVPair:
        key = clean_key(str(key))
        try:
            pair = self._store.get(key)
        except KeyNotFound:
            raise MissingKeyError(key) from None
        self.read.add(key)
        return pair

    def exists(self, key: str) -> bool:
        return self._store.exists(clean_key(str(key)))

    def gets(self, pattern: str) -> list[KVPair]:
        return self._store.gets(self._pattern(pattern))

    def getvs(self, pattern: str) -> list[str]:
        return self._store.getvs(self._pattern(pattern))

    def _pattern(self, pattern: str) -> str:
        pattern = compile_glob(clean_key(str(pattern))).pattern
        self.read.update(self._store.matching(pattern))
        return pattern

    def ls(self, path: str) -> list[str]:
        return self._store.children(clean_key(str(path)), dirs_only=False)

    def lsdir(self, path: str) -> list[str]:
        return self._store.children(clean_key(str(path)), dirs_only=True)

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {name: getattr(self, name) for name in KEY_FUNCTION_NAMES}


KEY_FUNCTION_NAMES = ("getv", "getvs", "get", "gets", "ls", "lsdir", "exists")


class Glob:
    """A checked glob: `match(name)` is Go's path.Match, as in `gets`."""

    def __init__(self, pattern: str) -> None:
        try:
            path_match(pattern, "")  # Go finds a bad pattern only while matching: check it all
        except BadPattern:
            raise RenderError(f"bad glob pattern ({describe(pattern)})") from None
        self.pattern = pattern
        self._match = matcher(pattern)

    def match(self, name: str) -> bool:
        return self._match(name)


def compile_glob(pattern: str) -> Glob:
    """A glob checked once, matched many times; RenderError for a bad pattern."""
    return Glob(pattern)


glob_regex = compile_glob  # the name confpy.apply.each imports
