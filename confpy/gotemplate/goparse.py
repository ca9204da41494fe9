"""Go text/template's lexer and parser, as Go 1.19 has them, for the direct engine.

The lexer and the parser follow text/template/parse (lex.go, parse.go, node.go): the same
tokens, trim markers, comments, number syntax, the same parse-time errors (undefined
function or variable, `{{break}}` outside a range, ...) and a tree of the same nodes,
including `define`, `block`, `template`, `break` and `continue`. Errors are confpy's
TemplateSyntaxError with the file, line and `column N:`. Nesting is bounded explicitly
(MAX_NESTING) so no template can exhaust Python's stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from confpy.errors import TemplateSyntaxError
from confpy.gotemplate.values import from_bytes

MAX_NESTING = 80
"""Deepest nesting of blocks and parentheses a template may have (Go has 10000)."""

SPACE = " \t\r\n"

# Item types.
EOF, TEXT, LDELIM, RDELIM, SPACE_T, ERROR = "EOF", "TEXT", "{{", "}}", "SPACE", "ERROR"
BOOL, CHAR, CHARCONST, COMPLEX, ASSIGN, DECLARE = "BOOL", "CHAR", "CHARCONST", "COMPLEX", "=", ":="
DOT, FIELD, IDENT, NUMBER, PIPE, RAWSTRING, STRING = (
    "DOT", "FIELD", "IDENT", "NUMBER", "|", "RAWSTRING", "STRING"
)
VARIABLE, LPAREN, RPAREN, NIL, KEYWORD = "VARIABLE", "(", ")", "NIL", "KEYWORD"

KEYWORDS = {
    "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
    "with",
}


@dataclass
class Item:
    typ: str
    val: str
    pos: int
    line: int


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.input = text
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
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            self.pos += len(self.input[self.pos :]) - len(self.input[self.pos :].lstrip(SPACE))
        self.ignore()
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
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
                self.error("unterminated character constant")
                return None
            if c in ("", "\n"):
                self.error("unterminated character constant")
                return None
            if c == "'":
                break
        self.emit(CHARCONST)
        return self.lex_inside

    def lex_number(self) -> Any:
        if not self.scan_number():
            self.error(f"bad number syntax: {self.input[self.start:self.pos]!r}")
            return None
        c = self.peek()
        if c in ("+", "-") and c:
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {self.input[self.start:self.pos]!r}")
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
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
                self.error("unterminated quoted string")
                return None
            if c in ("", "\n"):
                self.error("unterminated quoted string")
                return None
            if c == '"':
                break
        self.emit(STRING)
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


# Nodes.


@dataclass
class Node:
    pos: int
    line: int


@dataclass
class TextNode(Node):
    text: str


@dataclass
class CommentNode(Node):
    pass


@dataclass
class DotNode(Node):
    pass


@dataclass
class NilNode(Node):
    pass


@dataclass
class BoolNode(Node):
    value: bool


@dataclass
class StringNode(Node):
    quoted: str
    text: str


@dataclass
class NumberNode(Node):
    text: str
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int64: int = 0
    uint64: int = 0
    float64: float = 0.0
    complex128: complex = 0j


@dataclass
class FieldNode(Node):
    ident: list[str]


@dataclass
class VariableNode(Node):
    ident: list[str]


@dataclass
class IdentifierNode(Node):
    name: str


@dataclass
class ChainNode(Node):
    node: Node
    field: list[str]


@dataclass
class CommandNode(Node):
    args: list[Node]


@dataclass
class PipeNode(Node):
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class ActionNode(Node):
    pipe: PipeNode


@dataclass
class BranchNode(Node):
    kind: str  # if, range, with
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None


@dataclass
class TemplateNode(Node):
    name: str
    pipe: PipeNode | None


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


@dataclass
class _End(Node):
    pass


@dataclass
class _Else(Node):
    pass


def is_empty_tree(n: Node | None) -> bool:
    if n is None:
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, TextNode):
        return n.text.strip(SPACE) == ""
    return isinstance(n, CommentNode)


@dataclass
class Template:
    """The parsed file: its main tree and every `define`d or `block` tree, by name."""

    name: str
    trees: dict[str, ListNode]


class _ParseError(Exception):
    def __init__(self, pos: int, msg: str) -> None:
        self.pos = pos
        self.msg = msg


def parse(text: str, name: str, funcs: set[str] | frozenset[str], filename: str) -> Template:
    """Parse a template file as template.New(name).Funcs(funcs).Parse(text) does."""
    items = _Lexer(text).run()
    trees: dict[str, ListNode] = {}
    p = _Parser(items, funcs, trees)
    try:
        root = p.parse_top()
        _add(trees, name, root, 0)
    except _ParseError as e:
        line = text.count("\n", 0, e.pos) + 1
        col = e.pos - (text.rfind("\n", 0, e.pos) + 1) + 1
        raise TemplateSyntaxError(f"column {col}: {e.msg}", file=filename, line=line) from None
    return Template(name, trees)


def _add(trees: dict[str, ListNode], name: str, root: ListNode, pos: int) -> None:
    old = trees.get(name)
    if old is None or is_empty_tree(old):
        trees[name] = root
        return
    if not is_empty_tree(root):
        raise _ParseError(pos, f"template: multiple definition of template {name!r}")


class _Parser:
    def __init__(self, items: list[Item], funcs: set[str] | frozenset[str],
                 trees: dict[str, ListNode]) -> None:
        self.items = items
        self.i = 0
        self.funcs = funcs
        self.trees = trees
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0

    # Token access.

    def next(self) -> Item:
        it = self.items[self.i]
        if it.typ == ERROR:
            raise _ParseError(it.pos, it.val)
        if it.typ != EOF:
            self.i += 1
        return it

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Item:
        it = self.items[self.i]
        if it.typ == ERROR:
            raise _ParseError(it.pos, it.val)
        return it

    def next_non_space(self) -> Item:
        while True:
            it = self.next()
            if it.typ != SPACE_T:
                return it

    def peek_non_space(self) -> Item:
        it = self.next_non_space()
        self.backup()
        return it

    def expect(self, typ: str, context: str) -> Item:
        it = self.next_non_space()
        if it.typ != typ:
            self.unexpected(it, context)
        return it

    def unexpected(self, it: Item, context: str) -> None:
        if it.typ == ERROR:
            raise _ParseError(it.pos, it.val)
        raise _ParseError(it.pos, f"unexpected {_describe(it)} in {context}")

    def error(self, it: Item | Node, msg: str) -> None:
        raise _ParseError(it.pos, msg)

    def enter(self, it: Item) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _ParseError(it.pos, f"template nesting deeper than {MAX_NESTING} levels")

    # Structure.

    def parse_top(self) -> ListNode:
        root = ListNode(self.peek().pos, self.peek().line)
        while self.peek().typ != EOF:
            if self.peek().typ == LDELIM:
                delim = self.next()
                if self.next_non_space().typ == KEYWORD and self.items[self.i - 1].val == "define":
                    self.parse_definition(delim)
                    continue
                # backup2: back to the delimiter.
                while self.items[self.i - 1] is not delim:
                    self.i -= 1
                self.i -= 1
            n = self.text_or_action()
            if isinstance(n, _End | _Else):
                self.error(n, f"unexpected {{{{{'end' if isinstance(n, _End) else 'else'}}}}}")
            root.nodes.append(n)
        return root

    def parse_definition(self, delim: Item) -> None:
        context = "define clause"
        name = self.next_non_space()
        if name.typ not in (STRING, RAWSTRING):
            self.unexpected(name, context)
        tname = self._unquote(name)
        self.expect(RDELIM, context)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        root, end = self.item_list()
        if not isinstance(end, _End):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, tname, root, delim.pos)

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek().pos, self.peek().line)
        while self.peek_non_space().typ != EOF:
            n = self.text_or_action()
            if isinstance(n, _End | _Else):
                return lst, n
            lst.nodes.append(n)
        it = self.peek()
        raise _ParseError(it.pos, "unexpected EOF")

    def text_or_action(self) -> Node:
        it = self.next_non_space()
        if it.typ == TEXT:
            return TextNode(it.pos, it.line, it.val)
        if it.typ == LDELIM:
            return self.action()
        self.unexpected(it, "input")
        raise AssertionError

    def action(self) -> Node:
        it = self.next_non_space()
        if it.typ == KEYWORD:
            word = it.val
            if word == "block":
                return self.block_control(it)
            if word == "break":
                return self.break_control(it, "break")
            if word == "continue":
                return self.break_control(it, "continue")
            if word == "else":
                return self.else_control(it)
            if word == "end":
                self.expect(RDELIM, "end")
                return _End(it.pos, it.line)
            if word in ("if", "range", "with"):
                return self.control(it, word)
            if word == "template":
                return self.template_control(it)
        self.backup()
        it = self.peek()
        return ActionNode(it.pos, it.line, self.pipeline("command", RDELIM))

    def break_control(self, it: Item, word: str) -> Node:
        tok = self.next_non_space()
        if tok.typ != RDELIM:
            self.unexpected(tok, f"{{{{{word}}}}}")
        if self.range_depth == 0:
            self.error(it, f"{{{{{word}}}}} outside {{{{range}}}}")
        return BreakNode(it.pos, it.line) if word == "break" else ContinueNode(it.pos, it.line)

    def else_control(self, it: Item) -> Node:
        peek = self.peek_non_space()
        if peek.typ == KEYWORD and peek.val == "if":
            return _Else(peek.pos, peek.line)
        self.expect(RDELIM, "else")
        return _Else(it.pos, it.line)

    def control(self, it: Item, kind: str) -> Node:
        self.enter(it)
        mark = len(self.vars)
        pipe = self.pipeline(kind, RDELIM)
        if kind == "range":
            self.range_depth += 1
        lst, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if isinstance(nxt, _Else):
            if kind == "if" and self.peek().typ == KEYWORD and self.peek().val == "if":
                if_item = self.next()
                else_list = ListNode(nxt.pos, nxt.line)
                else_list.nodes.append(self.control(if_item, "if"))
            else:
                else_list, nxt = self.item_list()
                if not isinstance(nxt, _End):
                    self.error(nxt, "expected end; found {{else}}")
        del self.vars[mark:]
        self.depth -= 1
        return BranchNode(it.pos, it.line, kind, pipe, lst, else_list)

    def template_name(self, tok: Item, context: str) -> str:
        if tok.typ in (STRING, RAWSTRING):
            return self._unquote(tok)
        self.unexpected(tok, context)
        raise AssertionError

    def template_control(self, it: Item) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != RDELIM:
            self.backup()
            pipe = self.pipeline(context, RDELIM)
        return TemplateNode(tok.pos, tok.line, name, pipe)

    def block_control(self, it: Item) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, RDELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        self.enter(it)
        root, end = self.item_list()
        self.depth -= 1
        if not isinstance(end, _End):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, name, root, it.pos)
        return TemplateNode(tok.pos, tok.line, name, pipe)

    # Pipelines.

    def pipeline(self, context: str, end: str) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok.pos, tok.line)
        while True:  # decls
            v = self.peek_non_space()
            if v.typ != VARIABLE:
                break
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (ASSIGN, DECLARE):
                pipe.is_assign = nxt.typ == ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.typ == CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (VARIABLE, RDELIM, RPAREN):
                        continue
                    self.error(nxt, "range can only initialize variables")
                self.error(nxt, f"too many declarations in {context}")
            # Not a declaration: push back the variable (and the space after it).
            self.i = self.items.index(v, max(self.i - 3, 0))
            _ = after
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context, tok)
                return pipe
            if tok.typ in (BOOL, CHARCONST, COMPLEX, DOT, FIELD, IDENT, NUMBER, NIL, RAWSTRING,
                           STRING, VARIABLE, LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str, tok: Item) -> None:
        if not pipe.cmds:
            self.error(tok, f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                self.error(c.args[0], f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        first = self.peek_non_space()
        cmd = CommandNode(first.pos, first.line, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == SPACE_T:
                continue
            if tok.typ in (RDELIM, RPAREN):
                self.backup()
            elif tok.typ == PIPE:
                pass
            else:
                self.error(tok, f"unexpected {_describe(tok)} in operand")
            break
        if not cmd.args:
            self.error(first, "empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == FIELD:
            chain_fields: list[str] = []
            while self.peek().typ == FIELD:
                chain_fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                node = FieldNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, VariableNode):
                node = VariableNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                self.error(node, f"unexpected . after term {_node_text(node)!r}")
            else:
                node = ChainNode(node.pos, node.line, node, chain_fields)
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == IDENT:
            if tok.val not in self.funcs:
                self.error(tok, f'function "{tok.val}" not defined')
            return IdentifierNode(tok.pos, tok.line, tok.val)
        if t == DOT:
            return DotNode(tok.pos, tok.line)
        if t == NIL:
            return NilNode(tok.pos, tok.line)
        if t == VARIABLE:
            if tok.val not in self.vars:
                self.error(tok, f'undefined variable "{tok.val}"')
            return VariableNode(tok.pos, tok.line, [tok.val])
        if t == FIELD:
            return FieldNode(tok.pos, tok.line, [tok.val[1:]])
        if t == BOOL:
            return BoolNode(tok.pos, tok.line, tok.val == "true")
        if t in (CHARCONST, COMPLEX, NUMBER):
            return self.number(tok)
        if t == LPAREN:
            self.enter(tok)
            pipe = self.pipeline("parenthesized pipeline", RPAREN)
            self.depth -= 1
            return pipe
        if t in (STRING, RAWSTRING):
            return StringNode(tok.pos, tok.line, tok.val, self._unquote(tok))
        self.backup()
        return None

    def _unquote(self, tok: Item) -> str:
        try:
            return unquote(tok.val)
        except ValueError as e:
            raise _ParseError(tok.pos, str(e)) from None

    def number(self, tok: Item) -> NumberNode:
        try:
            return new_number(tok.pos, tok.line, tok.val, tok.typ)
        except ValueError as e:
            raise _ParseError(tok.pos, str(e)) from None


def _describe(it: Item) -> str:
    if it.typ == EOF:
        return "EOF"
    if it.typ == KEYWORD:
        return f"<{it.val}>"
    if it.typ == RDELIM:
        return "}}"
    return repr(it.val)


def _node_text(n: Node) -> str:
    if isinstance(n, StringNode):
        return n.quoted
    if isinstance(n, NumberNode):
        return n.text
    if isinstance(n, BoolNode):
        return "true" if n.value else "false"
    if isinstance(n, NilNode):
        return "nil"
    return "."


# strconv.Unquote and number parsing.

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\"}


def unquote(s: str) -> str:
    """strconv.Unquote for the three quote kinds; raw bytes come back surrogate-escaped."""
    if len(s) < 2 or s[0] != s[-1]:
        raise ValueError("invalid syntax")
    q = s[0]
    body = s[1:-1]
    if q == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if q not in "\"'":
        raise ValueError("invalid syntax")
    if "\n" in body:
        raise ValueError("invalid syntax")
    out = bytearray()
    i = 0
    n = 0
    while i < len(body):
        c = body[i]
        if c == q and q == '"':
            raise ValueError("invalid syntax")
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            n += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        i = _unescape(body, i, q, out)
        n += 1
    text = from_bytes(bytes(out))
    if q == "'" and (n != 1):
        raise ValueError(f"malformed character constant: {s}")
    return text


def _unescape(body: str, i: int, q: str, out: bytearray) -> int:
    """Append the escape after the backslash at `body[i - 1]` to `out`; the index after it."""
    e = body[i]
    i += 1
    if e in _SIMPLE:
        out += _SIMPLE[e].encode()
    elif e == q:
        out += e.encode()
    elif e in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[e]
        h = body[i : i + width]
        if len(h) != width or not all(ch in "0123456789abcdefABCDEF" for ch in h):
            raise ValueError("invalid syntax")
        v = int(h, 16)
        i += width
        if e == "x":
            if q == "'":
                out += chr(v).encode()
            else:
                out.append(v)
        else:
            if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise ValueError("invalid syntax")
            out += chr(v).encode()
    elif e in "01234567":
        o = body[i - 1 : i + 2]
        if len(o) != 3 or not all(ch in "01234567" for ch in o):
            raise ValueError("invalid syntax")
        v = int(o, 8)
        if v > 255:
            raise ValueError("invalid syntax")
        i += 2
        if q == "'":
            out += chr(v).encode()
        else:
            out.append(v)
    else:
        raise ValueError("invalid syntax")
    return i


_INT_RE = re.compile(
    r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)\Z"
)
_FLOAT_RE = re.compile(
    r"[+-]?(([0-9](_?[0-9])*(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?"
    r"|0[xX](_?[0-9a-fA-F])*(\.([0-9a-fA-F](_?[0-9a-fA-F])*)?)?[pP][+-]?[0-9](_?[0-9])*"
    r"|0[xX]\.[0-9a-fA-F](_?[0-9a-fA-F])*[pP][+-]?[0-9](_?[0-9])*"
    r"|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])\Z"
)


def parse_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64) (ValueError on bad syntax or range)."""
    if not _INT_RE.match(text):
        raise ValueError("syntax")
    t = text.replace("_", "")
    neg = t.startswith("-")
    t = t.lstrip("+-")
    octal = len(t) > 1 and t[0] == "0" and t[1] not in "xXbBoO"
    v = int(t, 8) if octal else int(t, 0)
    return -v if neg else v


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64)."""
    if not _FLOAT_RE.match(text):
        raise ValueError("syntax")
    t = text.replace("_", "")
    low = t.lower().lstrip("+-")
    neg = t.startswith("-")
    v = float.fromhex(("-" if neg else "") + low) if low.startswith("0x") else float(t)
    if math.isinf(v) and "inf" not in low:
        raise ValueError("range")
    return v


def new_number(pos: int, line: int, text: str, typ: str) -> NumberNode:
    """parse.NewNumber: every kind (int, uint, float, complex) the literal can stand for."""
    n = NumberNode(pos, line, text)
    if typ == CHARCONST:
        r = unquote(text)
        n.int64 = n.uint64 = ord(r) if len(r) == 1 else 0xFFFD
        n.float64 = float(n.int64)
        n.is_int = n.is_uint = n.is_float = True
        return n
    if typ == COMPLEX:
        _set_complex(n, text)
        return n
    if text.endswith("i") and _set_imaginary(n, text):
        return n
    _set_integers(n, text)
    if n.is_int:
        n.is_float = True
        n.float64 = float(n.int64)
    elif n.is_uint:
        n.is_float = True
        n.float64 = float(n.uint64)
    else:
        _set_float(n, text)
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {text!r}")
    return n


def _set_complex(n: NumberNode, text: str) -> None:
    m = re.match(r"(.*?[0-9.])([+-].*)i\Z", text)
    if not m:
        raise ValueError(f"illegal number syntax: {text!r}")
    try:
        n.complex128 = complex(parse_float(m.group(1)), parse_float(m.group(2)))
    except ValueError:
        raise ValueError(f"illegal number syntax: {text!r}") from None
    n.is_complex = True
    _simplify_complex(n)


def _set_imaginary(n: NumberNode, text: str) -> bool:
    """`2i`: True when `text` is a float followed by i."""
    try:
        imag = parse_float(text[:-1])
    except ValueError:
        return False
    n.is_complex = True
    n.complex128 = complex(0, imag)
    _simplify_complex(n)
    return True


def _set_integers(n: NumberNode, text: str) -> None:
    """The uint64 and int64 the literal fits, if any."""
    try:
        u = parse_int(text)
        if 0 <= u < 1 << 64 and not text.startswith("-"):
            n.is_uint = True
            n.uint64 = u
    except ValueError:
        pass
    try:
        i = parse_int(text)
        if -(1 << 63) <= i < 1 << 63:
            n.is_int = True
            n.int64 = i
            if i == 0:
                n.is_uint = True
                n.uint64 = 0
    except ValueError:
        pass


def _set_float(n: NumberNode, text: str) -> None:
    """A literal that is no integer: a float, and the integers it equals exactly."""
    try:
        f = parse_float(text)
    except ValueError:
        return
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {text!r}")
    n.is_float = True
    n.float64 = f
    if math.isfinite(f) and f == int(f):
        iv = int(f)
        if -(1 << 63) <= iv < 1 << 63:
            n.is_int = True
            n.int64 = iv
        if 0 <= iv < 1 << 64:
            n.is_uint = True
            n.uint64 = iv


def _simplify_complex(n: NumberNode) -> None:
    if n.complex128.imag == 0:
        n.is_float = True
        n.float64 = n.complex128.real
        f = n.float64
        if math.isfinite(f) and f == int(f):
            n.is_int = True
            n.int64 = int(f)
            if f >= 0:
                n.is_uint = True
                n.uint64 = int(f)
