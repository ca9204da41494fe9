"""Go's path package as confd uses it: Clean, Dir, Base, Join and Match, on Python strings.

The one glob matcher of both engines (memkv's `gets`/`getvs`, and the Jinja functions of
confpy.functions.kv): Go's path.Match, where `*` and `?` never match `/` and only `^` negates
a class. A byte that is not UTF-8 (a surrogate escape) is one U+FFFD rune, as Go reads it.
"""

from __future__ import annotations

from collections.abc import Callable


def path_clean(p: str) -> str:
    if p == "":
        return "."
    rooted = p[0] == "/"
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    s = "/".join(parts)
    if rooted:
        s = "/" + s
    return s or "."


def path_dir(p: str) -> str:
    i = p.rfind("/")
    return path_clean(p[: i + 1])


def path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    i = p.rfind("/")
    return p[i + 1 :] if i >= 0 else p


def path_join(*elems: str) -> str:
    joined = "/".join(e for e in elems if e != "")
    return path_clean(joined) if joined else ""


class BadPattern(ValueError):
    """path.ErrBadPattern: found while matching, as Go finds it."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


_META = frozenset("*?[\\")


def matcher(pattern: str) -> Callable[[str], bool]:
    """`path_match` with `pattern` fixed: a literal or a literal and one trailing `*` (all
    confd templates' `gets "/dir/*"`) is tested with string methods, once per key."""
    head = pattern[:-1] if pattern.endswith("*") else None
    if head is not None and not _META.intersection(head):
        return lambda name: name.startswith(head) and "/" not in name[len(head) :]
    if not _META.intersection(pattern):
        return pattern.__eq__
    return lambda name: path_match(pattern, name)


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: only `^` negates a class; `*` and `?` never match `/`."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name
        t, ok = _match_chunk(chunk, name)
        if ok and (len(t) == 0 or len(pattern) > 0):
            name = t
            continue
        if star:
            matched = False
            i = 0
            while i < len(name) and name[i] != "/":
                t, ok = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if len(pattern) == 0 and len(t) > 0:
                        i += 1
                        continue
                    name = t
                    matched = True
                    break
                i += 1
            if matched:
                continue
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return len(name) == 0


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern and pattern[0] == "*":
        pattern = pattern[1:]
        star = True
    inrange = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            inrange = True
        elif c == "]":
            inrange = False
        elif c == "*" and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    failed = False
    while chunk:
        if not failed and len(s) == 0:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r = s[0]
                s = s[1:]
            chunk, in_class = _match_class(chunk[1:], r, failed)
            if not in_class:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _match_class(chunk: str, r: str, failed: bool) -> tuple[str, bool]:
    """`[...]` after its `[`: the pattern after the `]`, and whether `r` is in the class
    (checked to the end even when the match already `failed`, so a bad pattern is found)."""
    negated = False
    if chunk and chunk[0] == "^":
        negated = True
        chunk = chunk[1:]
    match = False
    nrange = 0
    while True:
        if chunk and chunk[0] == "]" and nrange > 0:
            chunk = chunk[1:]
            break
        lo, chunk = _get_esc(chunk)
        hi = lo
        if chunk[0] == "-":
            hi, chunk = _get_esc(chunk[1:])
        if not failed and lo <= _rune(r) <= hi:
            match = True
        nrange += 1
    return chunk, match != negated


def _rune(c: str) -> int:
    o = ord(c)
    return 0xFFFD if 0xDC80 <= o <= 0xDCFF else o


def _get_esc(chunk: str) -> tuple[int, str]:
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    r = chunk[0]
    if 0xDC80 <= ord(r) <= 0xDCFF:
        raise BadPattern()
    chunk = chunk[1:]
    if not chunk:
        raise BadPattern()
    return ord(r), chunk
