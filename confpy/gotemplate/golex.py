"""Go text/template's lexer (text/template/parse/lex.go): text into items (`goitems`), trim
markers, keywords."""

from __future__ import annotations

from typing import Any

from confpy.gotemplate.goitems import (
    ASSIGN,
    BOOL,
    CHAR,
    CHARCONST,
    COMMENT,
    COMPLEX,
    DECLARE,
    DOT,
    EOF,
    ERROR,
    FIELD,
    IDENT,
    KEYWORD,
    LDELIM,
    LPAREN,
    NIL,
    NUMBER,
    PIPE,
    RAWSTRING,
    RDELIM,
    RPAREN,
    SPACE_T,
    STRING,
    TEXT,
    VARIABLE,
    Item,
)

SPACE = " \t\r\n"

KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil"}
KEYWORDS |= {"template", "with"}


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


class Lexer:
    def __init__(self, text: str, comments: bool = False) -> None:
        self.input = text
        self.comments = comments
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.items: list[Item] = []
        self.paren_depth = 0

    def emit(self, typ: str) -> None:
        self.items.append(Item(typ, self.input[self.start : self.pos], self.start, self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1
            return ""
        c = self.input[self.pos]
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def backup(self) -> None:
        self.pos -= 1
        if self.pos < len(self.input) and self.input[self.pos] == "\n":
            self.line -= 1

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def error(self, msg: str) -> None:
        self.items.append(Item(ERROR, msg, self.start, self.start_line))

    def run(self) -> list[Item]:
        state: Any = self.lex_text
        while state is not None:
            state = state()
        return self.items

    def lex_text(self) -> Any:
        x = self.input.find("{{", self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                if _has_left_trim(self.input[x + 2 : x + 4]):
                    text = self.input[self.start : self.pos]
                    trim = len(text) - len(text.rstrip(SPACE))
                self.pos -= trim
                self.line += self.input.count("\n", self.start, self.pos)
                item = Item(TEXT, self.input[self.start : self.pos], self.start, self.start_line)
                self.pos += trim
                self.line += self.input.count("\n", self.pos - trim, self.pos)
                self.start = self.pos
                self.start_line = self.line
                if item.val:
                    self.items.append(item)
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.items.append(
                Item(TEXT, self.input[self.start : self.pos], self.start, self.start_line)
            )
            self.start = self.pos
            self.start_line = self.line
        self.items.append(Item(EOF, "", self.pos, self.line))
        return None

    def lex_left_delim(self) -> Any:
        self.pos += 2
        trim = _has_left_trim(self.input[self.pos : self.pos + 2])
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.items.append(Item(LDELIM, "{{", self.start, self.start_line))
        self.start = self.pos
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside

    def lex_comment(self) -> Any:
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            self.error("unclosed comment")
            return None
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        item = Item(COMMENT, self.input[self.start : self.pos], self.start, self.start_line)
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            self.pos += len(self.input[self.pos :]) - len(self.input[self.pos :].lstrip(SPACE))
        self.ignore()
        if self.comments:
            self.items.append(item)
        return self.lex_text

    def at_right_delim(self) -> tuple[bool, bool]:
        s = self.input[self.pos :]
        if _has_right_trim(s) and s[2:].startswith("}}"):
            return True, True
        if s.startswith("}}"):
            return True, False
        return False, False

    def lex_right_delim(self) -> Any:
        s = self.input[self.pos :]
        trim = _has_right_trim(s)
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += 2
        self.emit(RDELIM)
        if trim:
            self.pos += len(self.input[self.pos :]) - len(self.input[self.pos :].lstrip(SPACE))
            self.ignore()
        return self.lex_text

    def lex_inside(self) -> Any:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        c = self.next()
        if c == "":
            self.error("unclosed action")
            return None
        if c in SPACE:
            self.backup()
            return self.lex_space
        opening = {'"': self.lex_quote, "`": self.lex_raw_quote, "$": self.lex_variable,
                   "'": self.lex_char}.get(c)  # fmt: skip
        if opening is not None:
            return opening
        if c == "." and not (self.pos < len(self.input) and "0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        if c in "+-." or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        if _is_alnum(c):
            self.backup()
            return self.lex_identifier
        return self.lex_punctuation(c)

    def lex_punctuation(self, c: str) -> Any:
        """`=`, `:=`, `|`, parentheses and other ASCII punctuation inside an action."""
        if c == "=":
            self.emit(ASSIGN)
        elif c == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(DECLARE)
        elif c == "|":
            self.emit(PIPE)
        elif c == "(":
            self.emit(LPAREN)
            self.paren_depth += 1
        elif c == ")":
            self.emit(RPAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {_urune(c)}")
                return None
        elif ord(c) < 0x80 and c.isprintable():
            self.emit(CHAR)
        else:
            self.error(f"unrecognized character in action: {_urune(c)}")
            return None
        return self.lex_inside

    def lex_space(self) -> Any:
        n = 0
        while self.peek() and self.peek() in SPACE:
            self.next()
            n += 1
        s = self.input[self.pos - 1 :]
        if _has_right_trim(s) and s[2:].startswith("}}"):
            self.backup()
            if n == 1:
                return self.lex_right_delim
        self.emit(SPACE_T)
        return self.lex_inside

    def lex_identifier(self) -> Any:
        while True:
            c = self.next()
            if c and _is_alnum(c):
                continue
            self.backup()
            word = self.input[self.start : self.pos]
            if not self.at_terminator():
                self.error(f"bad character {_urune(c)}")
                return None
            if word in KEYWORDS:
                self.emit(NIL if word == "nil" else KEYWORD)
            elif word in ("true", "false"):
                self.emit(BOOL)
            else:
                self.emit(IDENT)
            return self.lex_inside

    def lex_field(self) -> Any:
        return self.lex_field_or_variable(FIELD)

    def lex_variable(self) -> Any:
        return self.lex_field_or_variable(VARIABLE)

    def lex_field_or_variable(self, typ: str) -> Any:
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside
        while True:
            c = self.next()
            if not (c and _is_alnum(c)):
                self.backup()
                break
        if not self.at_terminator():
            self.error(f"bad character {_urune(self.peek())}")
            return None
        self.emit(typ)
        return self.lex_inside

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or c in SPACE or c in ".,|:)(":
            return True
        return self.input.startswith("}}", self.pos)

    def lex_char(self) -> Any:
        return self.lex_quoted("'", "character constant", CHARCONST)

    def lex_number(self) -> Any:
        if not self.scan_number():
            self.error(f"bad number syntax: {self.input[self.start : self.pos]!r}")
            return None
        c = self.peek()
        if c in ("+", "-") and c:
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {self.input[self.start : self.pos]!r}")
                return None
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if not (c and c in valid):
                break
        self.backup()

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        c = self.peek()
        if c and _is_alnum(c):
            self.next()
            return False
        return True

    def lex_quote(self) -> Any:
        return self.lex_quoted('"', "quoted string", STRING)

    def lex_quoted(self, close: str, what: str, item: str) -> Any:
        """Scan to the `close` quote; a backslash escapes anything but a newline or the end."""
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self.error(f"unterminated {what}")
                return None
            if c == close:
                break
        self.emit(item)
        return self.lex_inside

    def lex_raw_quote(self) -> Any:
        x = self.input.find("`", self.pos)
        if x < 0:
            self.error("unterminated raw quoted string")
            return None
        self.line += self.input.count("\n", self.pos, x + 1)
        self.pos = x + 1
        self.emit(RAWSTRING)
        return self.lex_inside


def _has_left_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] == "-" and s[1] in SPACE


def _has_right_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] in SPACE and s[1] == "-"


def _urune(c: str) -> str:
    if not c:
        return "U+FFFFFFFF"
    return f"U+{ord(c):04X} {c!r}"
