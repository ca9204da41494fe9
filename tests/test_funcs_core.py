"""One core of confd's semantics (confpy.golib.memkv, confpy.golib.path) under both engines:
the same glob, order, paths and pairs whether a template is Jinja or Go."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.config.keys import clean_key
from confpy.errors import RenderError
from confpy.functions import static as funcs
from confpy.functions.kv import KeyFunctions
from confpy.golib.memkv import KVPair
from confpy.golib.path import BadPattern
from confpy.gotemplate import values
from confpy.gotemplate.gomemkv import MemKV

RAW_FF = "/x/\udcff"  # the key /x/<byte 0xFF>, not UTF-8
PRIVATE = "/x/\ue000"  # U+E000: three bytes, EE 80 80


def test_both_engines_return_one_kvpair_type() -> None:
    """Jinja's and Go's `get` return the same class, readable as .Key and .key."""
    jinja = KeyFunctions({"/a": "1"}).get("/a")
    go = MemKV({"/a": "1"}).get("/a")
    assert type(jinja) is type(go) is values.KVPair is KVPair
    assert (jinja.Key, jinja.key, jinja.Value, jinja.value) == ("/a", "/a", "1", "1")
    assert repr(jinja) == "KVPair(key='/a', value='1')"


def test_jinja_orders_keys_by_their_bytes_as_confd_does() -> None:
    """gets/getvs/ls sort as Go sorts strings, byte by byte: U+E000 (EE 80 80) before the
    byte FF, where Python's string order puts the escaped FF first."""
    kf = KeyFunctions({RAW_FF: "\udcff", PRIVATE: "\ue000"})
    assert [kv.key for kv in kf.gets("/x/*")] == [PRIVATE, RAW_FF]
    assert kf.getvs("/x/*") == ["\ue000", "\udcff"]
    assert kf.ls("/x") == ["\ue000", "\udcff"]


def test_jinja_refuses_a_glob_go_refuses() -> None:
    """`[a-]` is a bad pattern to Go's path.Match, so to Jinja's gets too."""
    with pytest.raises(RenderError, match="bad glob pattern"):
        KeyFunctions({"/x/a": "1"}).gets("/x/[a-]")


def test_jinja_dir_is_go_path_dir() -> None:
    """`dir` cleans a leading `//` as Go's path.Dir does (POSIX normpath keeps it)."""
    assert funcs.dir("//a/b") == "/a"


@given(
    st.text(alphabet="ab/*?[]^-\\", max_size=8),
    st.lists(st.from_regex(r"/[ab-]{1,3}(/[ab^]{1,2})?", fullmatch=True), max_size=4),
)
def test_both_engines_match_globs_alike(pattern: str, keys: list[str]) -> None:
    """For any pattern and clean keys, Jinja's gets and Go's gets of the pattern Jinja
    cleans (`/a/` is `/a`) find the same keys, or both refuse the pattern (Jinja checks it
    whole first; Go while matching)."""
    store = dict.fromkeys(keys, "v")
    try:
        jinja: list[str] | None = [kv.key for kv in KeyFunctions(store).gets("/" + pattern)]
    except RenderError:
        jinja = None
    try:
        go: list[str] | None = [kv.Key for kv in MemKV(store).gets(clean_key("/" + pattern))]
    except BadPattern:
        go = None
    assert jinja == go or (jinja is None and go == [])
