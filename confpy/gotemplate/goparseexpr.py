"""The token reader and the expression half of the Go template parser.

What an action holds, as text/template/parse parses it: pipelines with their variable
declarations, commands, operands, fields and chains, and literal numbers and strings.
The structure around actions (lists, `if`/`range`/`with`, `define`, `block`, `template`)
is confpy.gotemplate.goparse's, which builds on `ExprParser`.
"""

from __future__ import annotations

from confpy.gotemplate import goitems, gonodes
from confpy.gotemplate.goitems import Item, describe_item
from confpy.gotemplate.goliterals import new_number, unquote

MAX_NESTING = 80
"""Deepest nesting of blocks and parentheses a template may have (Go has 10000)."""


_OPERAND_STARTS = (
    *(goitems.BOOL, goitems.CHARCONST, goitems.COMPLEX, goitems.DOT, goitems.FIELD, goitems.IDENT),
    *(
        goitems.NUMBER,
        goitems.NIL,
        goitems.RAWSTRING,
        goitems.STRING,
        goitems.VARIABLE,
        goitems.LPAREN,
    ),
)


# Operands that are constants: no command may follow them in a pipeline, no field them.
_CONSTANTS: tuple[type[gonodes.Node], ...] = (gonodes.BoolNode, gonodes.DotNode, gonodes.NilNode)
_CONSTANTS += (gonodes.NumberNode, gonodes.StringNode)


class ParseError(Exception):
    def __init__(self, pos: int, msg: str) -> None:
        self.pos = pos
        self.msg = msg


class ExprParser:
    """The state of one parse and the parsing of pipelines, commands and operands."""

    def __init__(
        self,
        items: list[Item],
        funcs: set[str] | frozenset[str],
        trees: dict[str, gonodes.ListNode],
    ) -> None:
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
        if it.typ == goitems.ERROR:
            raise ParseError(it.pos, it.val)
        if it.typ != goitems.EOF:
            self.i += 1
        return it

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Item:
        it = self.items[self.i]
        if it.typ == goitems.ERROR:
            raise ParseError(it.pos, it.val)
        return it

    def next_non_space(self) -> Item:
        while True:
            it = self.next()
            if it.typ != goitems.SPACE_T:
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
        if it.typ == goitems.ERROR:
            raise ParseError(it.pos, it.val)
        raise ParseError(it.pos, f"unexpected {describe_item(it)} in {context}")

    def error(self, it: Item | gonodes.Node, msg: str) -> None:
        raise ParseError(it.pos, msg)

    def enter(self, it: Item) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ParseError(it.pos, f"template nesting deeper than {MAX_NESTING} levels")

    # Pipelines.

    def pipeline(self, context: str, end: str) -> gonodes.PipeNode:
        tok = self.peek_non_space()
        pipe = gonodes.PipeNode(tok.pos, tok.line)
        while True:  # decls
            v = self.peek_non_space()
            if v.typ != goitems.VARIABLE:
                break
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (goitems.ASSIGN, goitems.DECLARE):
                pipe.is_assign = nxt.typ == goitems.ASSIGN
                self.next_non_space()
                pipe.decl.append(gonodes.VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.typ == goitems.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(gonodes.VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (
                        goitems.VARIABLE,
                        goitems.RDELIM,
                        goitems.RPAREN,
                    ):
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
            if tok.typ in _OPERAND_STARTS:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: gonodes.PipeNode, context: str, tok: Item) -> None:
        if not pipe.cmds:
            self.error(tok, f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], _CONSTANTS):
                self.error(c.args[0], f"non executable command in pipeline stage {i + 2}")

    def command(self) -> gonodes.CommandNode:
        first = self.peek_non_space()
        cmd = gonodes.CommandNode(first.pos, first.line, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == goitems.SPACE_T:
                continue
            if tok.typ in (goitems.RDELIM, goitems.RPAREN):
                self.backup()
            elif tok.typ != goitems.PIPE:  # a pipe ends the command: the caller goes on
                self.error(tok, f"unexpected {describe_item(tok)} in operand")
            break
        if not cmd.args:
            self.error(first, "empty command")
        return cmd

    def operand(self) -> gonodes.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == goitems.FIELD:
            chain_fields: list[str] = []
            while self.peek().typ == goitems.FIELD:
                chain_fields.append(self.next().val[1:])
            if isinstance(node, gonodes.FieldNode):
                node = gonodes.FieldNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, gonodes.VariableNode):
                node = gonodes.VariableNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, _CONSTANTS):
                self.error(node, f"unexpected . after term {gonodes.node_text(node)!r}")
            else:
                node = gonodes.ChainNode(node.pos, node.line, node, chain_fields)
        return node

    def term(self) -> gonodes.Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == goitems.IDENT:
            if tok.val not in self.funcs:
                self.error(tok, f'function "{tok.val}" not defined')
            return gonodes.IdentifierNode(tok.pos, tok.line, tok.val)
        if t == goitems.DOT:
            return gonodes.DotNode(tok.pos, tok.line)
        if t == goitems.NIL:
            return gonodes.NilNode(tok.pos, tok.line)
        if t == goitems.VARIABLE:
            if tok.val not in self.vars:
                self.error(tok, f'undefined variable "{tok.val}"')
            return gonodes.VariableNode(tok.pos, tok.line, [tok.val])
        if t == goitems.FIELD:
            return gonodes.FieldNode(tok.pos, tok.line, [tok.val[1:]])
        if t == goitems.BOOL:
            return gonodes.BoolNode(tok.pos, tok.line, tok.val == "true")
        if t in (goitems.CHARCONST, goitems.COMPLEX, goitems.NUMBER):
            return self.number(tok)
        if t == goitems.LPAREN:
            self.enter(tok)
            pipe = self.pipeline("parenthesized pipeline", goitems.RPAREN)
            self.depth -= 1
            return pipe
        if t in (goitems.STRING, goitems.RAWSTRING):
            return gonodes.StringNode(tok.pos, tok.line, tok.val, self._unquote(tok))
        self.backup()
        return None

    def _unquote(self, tok: Item) -> str:
        try:
            return unquote(tok.val)
        except ValueError as e:
            raise ParseError(tok.pos, str(e)) from None

    def number(self, tok: Item) -> gonodes.NumberNode:
        try:
            return new_number(tok.pos, tok.line, tok.val, tok.typ)
        except ValueError as e:
            raise ParseError(tok.pos, str(e)) from None
