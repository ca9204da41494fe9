"""Go's regexp (RE2 syntax) on Python's `re`, for the fork's regexMatch/regexFind/regexReplaceAll.

The pattern is translated where the two differ: `\\d \\w \\s \\b` are ASCII in Go, `$`
without `(?m)` is the end of the text, `\\z` is Python's `\\Z`. What RE2 refuses is refused
(backreferences, look-around, possessive quantifiers). Python's engine backtracks where
RE2 does not: a repetition of a group that itself repeats without bound (`(a+)+`) can take
exponential time on a hostile value, so such patterns are refused with one line (overlapping
alternatives under a repetition, `(a|a)*`, are not detected). Patterns
and inputs are bounded (MAX_PATTERN, limits.MAX_OUTPUT_CHARS). Errors are ValueError.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_PATTERN = 4096
"""Longest pattern accepted, in characters."""

_ASCII = {
    "d": "0-9",
    "s": "\\t\\n\\f\\r ",
    "w": "0-9A-Za-z_",
}
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"


@lru_cache(maxsize=256)  # bounded: a pattern may be built from a value
def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Go's meaning, or raise ValueError naming the problem."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"error parsing regexp: pattern longer than {MAX_PATTERN} characters")
    text = _translate(pattern)
    _refuse_nested_repetition(pattern)
    try:
        return re.compile(text)
    except (re.error, OverflowError, RecursionError) as e:
        reason = getattr(e, "msg", None) or "invalid pattern"
        raise ValueError(f"error parsing regexp: {reason}") from None


def _translate(p: str) -> str:
    multiline = bool(re.match(r"\(\?[a-zA-Z]*m", p))
    out: list[str] = []
    i, in_class = 0, False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            e = p[i + 1]
            out.append(_escape(e, in_class))
            i += 2
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            if p.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append(c)
        elif c == "$" and not multiline:
            out.append("\\Z")
        elif c == "(" and p.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            raise ValueError("error parsing regexp: invalid or unsupported Perl syntax: `(?`")
        elif c in "*+?}" and p[i + 1 : i + 2] == "+":
            raise ValueError("error parsing regexp: invalid nested repetition operator")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _escape(e: str, in_class: bool) -> str:
    if e in "123456789":
        raise ValueError(f"error parsing regexp: invalid escape sequence: `\\{e}`")
    if e.lower() in _ASCII:
        body = _ASCII[e.lower()]
        if in_class:
            if e.isupper():
                raise ValueError("error parsing regexp: negated class inside a class")
            return body
        return f"[{'^' if e.isupper() else ''}{body}]"
    if e == "z":
        return "\\Z"
    if e == "b" and not in_class:
        return _BOUNDARY
    if e == "B" and not in_class:
        return _NOT_BOUNDARY
    if e in "Zpk" or e == "P" or e == "Q":
        raise ValueError(f"error parsing regexp: escape `\\{e}` is not supported by confpy")
    return "\\" + e


_GROUP_REPEATED = re.compile(r"\)(?:[*+]|\{\d+,\})")


def _refuse_nested_repetition(p: str) -> None:
    """Refuse `(…x+…)+`: an unbounded repetition of a group holding one (exponential in
    a backtracking engine). Counts groups by their parentheses, escapes skipped."""
    stack: list[bool] = []  # per open group: does it hold an unbounded repetition
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = p.find("]", i + 2)
            i = len(p) if j < 0 else j + 1
            continue
        if c == "(":
            stack.append(False)
        elif c == ")" and stack:
            inner = stack.pop()
            repeated = _GROUP_REPEATED.match(p, i)
            if inner and repeated:
                raise ValueError(
                    "regexp: a repeated group that itself repeats without bound is refused "
                    "(it can take exponential time in confpy's engine)"
                )
            if stack and (inner or repeated):
                stack[-1] = True
        elif (c in "*+" or (c == "{" and re.match(r"\{\d+,\}", p[i:]))) and stack:
            stack[-1] = True
        i += 1


def expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group is ""."""
    out: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        name, end = _group_name(template, i + 1)
        if name is None:
            out.append("$")
            i += 1
            continue
        out.append(_group(m, name))
        i = end
    return "".join(out)


def _group_name(t: str, i: int) -> tuple[str | None, int]:
    if t[i] == "{":
        j = t.find("}", i)
        name = t[i + 1 : j] if j > 0 else ""
        if not name or not re.fullmatch(r"\w+", name, re.ASCII):
            return None, i
        return name, j + 1
    m = re.compile(r"\w+", re.ASCII).match(t, i)
    if m is None:
        return None, i
    return m.group(), m.end()


def _group(m: re.Match[str], name: str) -> str:
    try:
        value = m.group(int(name)) if name.isdigit() else m.group(name)
    except (IndexError, ValueError):
        return ""
    return value or ""


def replace_all(pattern: str, s: str, repl: str) -> str:
    return compile_go(pattern).sub(lambda m: expand(repl, m), s)
