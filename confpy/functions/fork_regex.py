"""Go's regexp for the fork's regexMatch/regexFind/regexReplaceAll, on RE2 (google-re2).

RE2 is the engine Go's regexp follows: the same syntax (`\\d \\w \\s \\b` ASCII, `$`
without `(?m)` the end of the text, no backreferences or look-around) and time linear
in the text whatever the pattern, so a hostile value cannot hang a render. Matching runs
on the UTF-8 bytes Go would see (a value's undecodable bytes survive as surrogate
escapes). What RE2 refuses is one line in Go's words, without the pattern's text (it may
come from a value). `re2` is imported on first use: `--help` and `check` never load it.
Errors are ValueError.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from confpy import limits

MAX_PATTERN = 4096
"""Longest pattern accepted, in characters."""

# RE2's error texts (re2/regexp.cc) in Go's words (regexp/syntax ErrorCode).
_GO_ERRORS = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
}
_NAME = re.compile(r"\w+", re.ASCII)


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=256)  # bounded: a pattern may be built from a value
def compile_go(pattern: str) -> Any:  # re2._Regexp; google-re2 ships no annotations
    """Compile a Go pattern, or raise ValueError with Go's reason."""
    # Lazy: only a template that uses a regex function loads it.
    import re2  # type: ignore[import-untyped]

    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"error parsing regexp: pattern longer than {MAX_PATTERN} characters")
    options = re2.Options()
    options.log_errors = False  # RE2 would also print the error (and the pattern) on stderr
    try:
        return re2.compile(_bytes(pattern), options)
    except re2.error as e:
        raise ValueError(f"error parsing regexp: {_go_reason(e)}") from None


def _go_reason(e: Exception) -> str:
    message = e.args[0] if e.args else ""
    if isinstance(message, bytes):
        message = _text(message)
    code = str(message).split(": ", 1)[0]
    return _GO_ERRORS.get(code, code or "invalid pattern")


def match(pattern: str, s: str) -> bool:
    """Go's regexp.MatchString: does the pattern match anywhere in s."""
    return compile_go(pattern).search(_bytes(s)) is not None


def find(pattern: str, s: str) -> str:
    """Go's Regexp.FindString: the leftmost match, or ""."""
    m = compile_go(pattern).search(_bytes(s))
    return _text(m.group()) if m is not None else ""


def replace_all(pattern: str, s: str, repl: str) -> str:
    """Go's Regexp.ReplaceAllString: `$1`/`${name}` expanded in repl; an empty match
    right after a match is not replaced (Go's rule, not Python's)."""
    regexp, text = compile_go(pattern), _bytes(s)
    out: list[bytes] = []
    size = last = pos = 0
    while pos <= len(text):
        m = regexp.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last:start])
        if end > last or start == 0:
            out.append(_bytes(expand(repl, functools.partial(_group, regexp, m))))
        size += start - last + len(out[-1])
        if size > limits.MAX_OUTPUT_CHARS:
            raise ValueError(f"result larger than {limits.MAX_OUTPUT_CHARS} bytes")
        last = end
        pos = end if end > pos else pos + _width(text, pos)
    out.append(text[last:])
    return _text(b"".join(out))


def _width(text: bytes, pos: int) -> int:
    """Bytes of the UTF-8 character at pos (1 for a stray byte), as Go steps over it."""
    if pos >= len(text):
        return 1
    lead = text[pos]
    width = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    try:
        text[pos : pos + width].decode("utf-8")
    except UnicodeDecodeError:
        return 1
    return width


def _group(regexp: Any, m: Any, name: str) -> str:
    if name.isdigit():
        index = int(name) if len(name) < 10 else -1
    else:
        index = regexp.groupindex.get(_bytes(name), -1)  # a bytes pattern's names are bytes
    if not 0 <= index <= regexp.groups:
        return ""  # Go: a group the pattern lacks expands to nothing
    value = m.group(index)
    return _text(value) if value else ""


def expand(template: str, group: Callable[[str], str]) -> str:
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
        out.append(group(name))
        i = end
    return "".join(out)


def _group_name(t: str, i: int) -> tuple[str | None, int]:
    if t[i] == "{":
        j = t.find("}", i)
        name = t[i + 1 : j] if j > 0 else ""
        if not name or not _NAME.fullmatch(name):
            return None, i
        return name, j + 1
    m = _NAME.match(t, i)
    if m is None:
        return None, i
    return m.group(), m.end()
