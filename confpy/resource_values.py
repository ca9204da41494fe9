"""One resource field's text as a value: a mode as confd spells it, an owner's name, the
prefix a resource reads under, a field's line in its file, the field a typo meant."""

from __future__ import annotations

import grp
import pwd
import re
from collections.abc import Iterable

from confpy.keys import join_key

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")
"""A template is Go, confd's one language, unless its `src` ends in one of these."""
CONFD_FIELDS = frozenset(
    {"src", "dest", "keys", "prefix", "mode", "uid", "gid", "check_cmd", "reload_cmd"}
)
"""The fields confd master reads (resource/template/resource.go); it ignores every other."""


def parse_mode(text: str) -> int | None:
    """A mode as confd spells it (Go's ParseUint base 0: `0644`, `0o644`, `0x1a4`), but
    that 3-4 octal digits without a leading 0 are octal too (see `_mode`); None if not one."""
    if re.fullmatch(r"0?[0-7]{3,4}", text):
        return int(text, 8)
    if re.fullmatch(r"0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|0[bB][01_]+|[1-9][0-9]*", text):
        try:
            return int(text, 0)
        except ValueError:
            return None
    return None


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


def effective_prefix(global_prefix: str, own_prefix: str, syntax: str) -> str:
    """The prefix a resource reads under.

    A Go (confd) resource follows confd: a global prefix, when set, replaces the
    resource's own `prefix` (resource/template/resource.go). A Jinja resource joins them:
    the global prefix, then its own.
    """
    if syntax == "go" and global_prefix.strip("/"):
        return join_key(global_prefix, "").rstrip("/")
    return join_key(global_prefix, own_prefix).rstrip("/")


def shown(name: str) -> str:
    """A field or table name as a message may print it: as written when it is a short plain
    word, else quoted with its escapes and cut (a TOML key may hold anything)."""
    if len(name) <= 64 and re.fullmatch(r"[\w.-]+", name):
        return name
    text = repr(name[:64])
    return text + ("..." if len(name) > 64 else "")
