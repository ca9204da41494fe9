"""Split Go text/template source into literal text, comments and action tokens.

Trim markers (`{{- ` and ` -}}`) are applied here, to the literal text itself, so the
translation never depends on Jinja's own whitespace control. Every token carries its
line and column so errors can point at the Go source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from confpy.errors import TemplateSyntaxError

# Go trims exactly these characters around `{{-` and `-}}`, not all Unicode whitespace.
GO_SPACE = " \t\r\n"

KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)


@dataclass
class Token:
    kind: str
    """One of: ident, keyword, field, var, dot, string, rawstring, char, number, bool, nil,
    pipe, lparen, rparen, comma, declare, assign."""
    value: str
    line: int
    col: int
    adjacent: bool = False
    """True when no space separates this token from the previous one (`$x.Field`)."""


@dataclass
class Text:
    text: str
    line: int


@dataclass
class Comment:
    text: str
    line: int
    col: int


@dataclass
class Action:
    tokens: list[Token]
    line: int
    col: int


@dataclass
class Lexed:
    items: list[Text | Comment | Action] = field(default_factory=list)


class _Source:
    """Maps offsets in the source to 1-based line and column numbers."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self._starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._starts[lo] + 1

    def error(self, offset: int, message: str) -> TemplateSyntaxError:
        line, col = self.pos(offset)
        return TemplateSyntaxError(f"column {col}: {message}", file=self.filename, line=line)


def lex(source: str, filename: str = "<template>") -> Lexed:
    """Cut `source` into text, comments and actions, applying trim markers to the text."""
    src = _Source(source, filename)
    out = Lexed()
    pos = 0
    trim_next = False
    n = len(source)
    while pos <= n:
        start = source.find("{{", pos)
        text_end = n if start == -1 else start
        text = source[pos:text_end]
        text_line = src.pos(pos)[0]
        removed = 0
        if trim_next:
            stripped = text.lstrip(GO_SPACE)
            removed += text[: len(text) - len(stripped)].count("\n")
            text_line += removed
            text = stripped
        if start == -1:
            if text or removed:
                out.items.append(Text(text, text_line))
            break
        left_trim = (
            source.startswith("{{-", start) and start + 3 < n and source[start + 3] in GO_SPACE
        )
        if left_trim:
            stripped = text.rstrip(GO_SPACE)
            removed += text[len(stripped) :].count("\n")
            text = stripped
        if text or removed:
            out.items.append(Text(text, text_line))
        body = start + (3 if left_trim else 2)
        if left_trim:
            while body < n and source[body] in GO_SPACE:
                body += 1
        line, col = src.pos(start)
        if source.startswith("/*", body):
            close = source.find("*/", body + 2)
            if close == -1:
                raise src.error(start, "unclosed comment {{/* ... */}}")
            after = close + 2
            trim_next, end = _close_delim(source, after)
            if end is None:
                raise src.error(start, "comment ends before closing delimiter }}")
            out.items.append(Comment(source[body + 2 : close], line, col))
            pos = end
            continue
        tokens, trim_next, end = _lex_action(src, body)
        out.items.append(Action(tokens, line, col))
        pos = end
    return out


def _close_delim(source: str, at: int) -> tuple[bool, int | None]:
    """At `at` expect `}}` or a right trim marker; return (trim, offset after `}}`)."""
    if source.startswith("}}", at):
        return False, at + 2
    j = at
    while j < len(source) and source[j] in GO_SPACE:
        j += 1
    if j > at and source.startswith("-}}", j):
        return True, j + 3
    if source.startswith("}}", j):
        return False, j + 2
    return False, None


_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)i?"
)
# Go's identifiers: Unicode letters, digits and `_` (`$ü`, `.ñame`).
_IDENT = re.compile(r"[^\W\d]\w*")


def _lex_action(src: _Source, pos: int) -> tuple[list[Token], bool, int]:
    source = src.text
    n = len(source)
    tokens: list[Token] = []
    adjacent = False
    depth = 0
    while True:
        if pos >= n:
            raise src.error(pos, "unclosed action: missing }}")
        c = source[pos]
        if c in GO_SPACE:
            # A space before `-}}` may be a trim marker.
            trim, end = _close_delim(source, pos)
            if trim and end is not None:
                return tokens, True, end
            pos += 1
            adjacent = False
            continue
        if source.startswith("}}", pos):
            if depth:
                raise src.error(pos, "unclosed left paren in action")
            return tokens, False, pos + 2
        line, col = src.pos(pos)
        kind, value, end = _one_token(src, pos)
        if kind == "lparen":
            depth += 1
        elif kind == "rparen":
            depth -= 1
            if depth < 0:
                raise src.error(pos, "unexpected right paren")
        tokens.append(Token(kind, value, line, col, adjacent))
        pos = end
        adjacent = True


_PUNCTUATION = {"|": "pipe", "(": "lparen", ")": "rparen", ",": "comma", "=": "assign"}


def _one_token(src: _Source, pos: int) -> tuple[str, str, int]:
    """The token starting at `pos` inside an action: (kind, value, position after it)."""
    source = src.text
    n = len(source)
    c = source[pos]
    if source.startswith(":=", pos):
        return "declare", ":=", pos + 2
    if c in _PUNCTUATION:
        return _PUNCTUATION[c], c, pos + 1
    if c in "\"'`":
        return _quoted_token(src, pos, c)
    if c == "$":
        m = _IDENT.match(source, pos + 1)
        name = "$" + (m.group(0) if m else "")
        return "var", name, pos + len(name)
    if c == "." and pos + 1 < n and (source[pos + 1].isalpha() or source[pos + 1] == "_"):
        m = _IDENT.match(source, pos + 1)
        assert m is not None
        return "field", m.group(0), m.end()
    if c.isdigit() or (c in "+-." and pos + 1 < n and source[pos + 1].isdigit()):
        m = _NUMBER.match(source, pos)
        if not m:
            raise src.error(pos, f"bad number syntax: {source[pos : pos + 10]!r}")
        return "number", m.group(0), m.end()
    if c == ".":
        return "dot", ".", pos + 1
    if c.isalpha() or c == "_":
        m = _IDENT.match(source, pos)
        assert m is not None
        word = m.group(0)
        return _word_kind(word), word, m.end()
    raise src.error(pos, f"unrecognized character in action: {c!r}")


def _quoted_token(src: _Source, pos: int, quote: str) -> tuple[str, str, int]:
    source = src.text
    if quote == "`":
        end = source.find("`", pos + 1)
        if end == -1:
            raise src.error(pos, "unterminated raw quoted string")
        return "rawstring", source[pos + 1 : end], end + 1
    end = _scan_quoted(src, pos, quote)
    return ("string" if quote == '"' else "char"), source[pos:end], end


def _word_kind(word: str) -> str:
    if word in ("true", "false"):
        return "bool"
    if word == "nil":
        return "nil"
    if word in KEYWORDS:
        return "keyword"
    return "ident"


def _scan_quoted(src: _Source, pos: int, quote: str) -> int:
    source = src.text
    i = pos + 1
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            break
        if c == quote:
            return i + 1
        i += 1
    what = "quoted string" if quote == '"' else "character constant"
    raise src.error(pos, f"unterminated {what}")
