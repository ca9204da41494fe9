"""The items Go text/template's lexer yields (parse/lex.go's item and itemType), and how a
parse error names one."""

from __future__ import annotations

EOF, TEXT, LDELIM, RDELIM, SPACE_T, ERROR = "EOF", "TEXT", "{{", "}}", "SPACE", "ERROR"
BOOL, CHAR, CHARCONST, COMPLEX, ASSIGN, DECLARE = "BOOL", "CHAR", "CHARCONST", "COMPLEX", "=", ":="
DOT, FIELD, IDENT, NUMBER = "DOT", "FIELD", "IDENT", "NUMBER"
PIPE, RAWSTRING, STRING = "|", "RAWSTRING", "STRING"
VARIABLE, LPAREN, RPAREN, NIL, KEYWORD = "VARIABLE", "(", ")", "NIL", "KEYWORD"
COMMENT = "COMMENT"  # only with comments=True (Go's parse.ParseComments)


class Item:
    """One lexed item. A plain class, not a dataclass: the engine's import generates no code
    (issue 22); equality and repr are the dataclass's."""

    __slots__ = ("line", "pos", "typ", "val")
    __hash__ = None  # type: ignore[assignment]  # compared by value, as a dataclass

    def __init__(self, typ: str, val: str, pos: int, line: int) -> None:
        self.typ = typ
        self.val = val
        self.pos = pos
        self.line = line

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Item:
            return NotImplemented
        assert isinstance(other, Item)
        return (self.typ, self.val, self.pos, self.line) == (
            other.typ,
            other.val,
            other.pos,
            other.line,
        )

    def __repr__(self) -> str:
        return f"Item(typ={self.typ!r}, val={self.val!r}, pos={self.pos!r}, line={self.line!r})"


def describe_item(it: Item) -> str:
    if it.typ == EOF:
        return "EOF"
    if it.typ == KEYWORD:
        return f"<{it.val}>"
    if it.typ == RDELIM:
        return "}}"
    return repr(it.val)
