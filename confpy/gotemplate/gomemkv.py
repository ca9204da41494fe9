"""memkv's store for the direct engine: confpy.golib.memkv's lookups, answered in Go's types.

The lookups themselves (exact keys, path.Match globs, memkv's ls and lsdir, Go's string
order) are confpy.golib.memkv's, shared with Jinja; here they become the slices confd's
functions return (`memkv.KVPairs`, `[]string`, with the capacity `append` gave them).
"""

from __future__ import annotations

from collections.abc import Mapping

from confpy.golib.memkv import KeyStore
from confpy.golib.path import path_join
from confpy.gotemplate.values import KVPair, Slice


class MemKV:
    """memkv.Store over one resource's keys (already cleaned with path.Join("/", key))."""

    def __init__(self, view: Mapping[str, str]) -> None:
        self.store = KeyStore(view)

    def get(self, key: str) -> KVPair:
        return self.store.get(key)

    def exists(self, key: str) -> bool:
        return self.store.exists(key)

    def getv(self, key: str, *default: str) -> str:
        return self.store.getv(key, *default)

    def gets(self, pattern: str) -> Slice:
        return Slice.appended(self.store.gets(pattern), "memkv.KVPairs")

    def getvs(self, pattern: str) -> Slice:
        return Slice.appended(self.store.getvs(pattern), "[]string")

    def ls(self, file_path: str) -> Slice:
        return Slice.appended(self.store.ls(file_path), "[]string")

    def lsdir(self, file_path: str) -> Slice:
        return Slice.appended(self.store.lsdir(file_path), "[]string")


def store_view(relative: Mapping[str, str]) -> dict[str, str]:
    """confd's setVars: each key relative to the prefix, path.Join'ed onto `/`."""
    return {path_join("/", k): relative[k] for k in sorted(relative)}
