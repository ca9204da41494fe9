"""One resource field's text as a value: a mode as confd spells it, an owner's name, the
prefix a resource reads under, a field's line in its file, the field a typo meant."""

from __future__ import annotations

import grp
import pwd
import re
from collections.abc import Iterable

from confpy.config.keys import join_key

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")
"""A template is Go, confd's one language, unless its `src` ends in one of these."""
CONFD_FIELDS = frozenset(
    {"src", "dest", "keys", "prefix", "mode", "uid", "gid", "check_cmd", "reload_cmd"}
)
"""The fields confd master reads (resource/template/resource.go); it ignores every other."""


def parse_mode(text: str) -> int | None:
    """A mode as confd reads it, Go's `strconv.ParseUint(text, 0, 32)` (`0644`, `0o644`,
    `0x1a4`, `0b...`, `0_644`, decimal), except that 3-4 octal digits without a leading 0
    (`"644"`) are octal here, decimal in confd (see FieldParser._mode); None if not a number."""
    if re.fullmatch(r"[0-7]{3,4}", text):
        return int(text, 8)
    return go_parse_uint(text)


def go_parse_uint(text: str) -> int | None:
    """Go's `strconv.ParseUint(text, 0, 32)`: None where Go returns an error."""
    lower = text[:2].lower()
    base, digits = {"0x": 16, "0o": 8, "0b": 2}.get(lower, 0), text[2:]
    if not base:
        base, digits = (8, text[1:]) if text.startswith("0") and len(text) > 1 else (10, text)
    if not _underscores_ok(text):
        return None
    digits = digits.replace("_", "")
    allowed = "0123456789abcdef"[:base]
    if not digits or any(c not in allowed for c in digits.lower()):
        return None
    value = int(digits, base)
    return value if value < 1 << 32 else None


def _underscores_ok(text: str) -> bool:
    """Go's strconv.underscoreOK: each `_` sits between digits (or after a base prefix)."""
    saw, i, hexadecimal = "^", 0, False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "bxo":
        saw, i, hexadecimal = "0", 2, text[1].lower() == "x"
    for c in text[i:]:
        if (c.isdigit() and c.isascii()) or (hexadecimal and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
    return saw != "_"


def uid_of(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def gid_of(name: str) -> int:
    return grp.getgrnam(name).gr_gid


def line_of(text: str, name: str, *, table: bool = False) -> int | None:
    pattern = rf"^\s*\[\s*{re.escape(name)}\s*\]" if table else rf"^\s*{re.escape(name)}\s*="
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(pattern, line, re.IGNORECASE):
            return number
    return None


def closest(name: str, known: Iterable[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return matches[0] if matches else None


def effective_prefix(global_prefix: str, own_prefix: str, *, replaces: bool) -> str:
    """The prefix a resource reads under.

    A Go (confd) resource follows confd: a global prefix, when set, replaces the
    resource's own `prefix` (resource/template/resource.go), even `/` (which then reads
    from the root). A Jinja resource joins them: the global prefix, then its own; unless
    `global_prefix_replaces` says otherwise (what `confpy convert` writes, so a converted
    resource reads what the Go one read). `replaces` is that choice.
    """
    if replaces and global_prefix:
        return join_key(global_prefix, "").rstrip("/")
    return join_key(global_prefix, own_prefix).rstrip("/")


def shown(name: str) -> str:
    """A field or table name as a message may print it: as written when it is a short plain
    word, else quoted with its escapes and cut (a TOML key may hold anything)."""
    if len(name) <= 64 and re.fullmatch(r"[\w.-]+", name):
        return name
    text = repr(name[:64])
    return text + ("..." if len(name) > 64 else "")
