"""Go text/template's parser, as Go 1.19 has it, for the direct engine.

With golex (lex.go), gonodes (node.go) and goliterals (strconv), it follows
text/template/parse: the same tokens, trim markers, comments, number syntax, the same
parse-time errors (undefined
function or variable, `{{break}}` outside a range, ...) and a tree of the same nodes,
including `define`, `block`, `template`, `break` and `continue`. Errors are confpy's
TemplateSyntaxError with the file, line and `column N:`. Nesting is bounded explicitly
(MAX_NESTING) so no template can exhaust Python's stack.
"""

from __future__ import annotations

from confpy.errors import TemplateSyntaxError
from confpy.gotemplate import golex
from confpy.gotemplate.golex import Item, Lexer, describe_item
from confpy.gotemplate.goliterals import new_number, unquote
from confpy.gotemplate.gonodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    Template,
    TemplateNode,
    TextNode,
    VariableNode,
    is_empty_tree,
    node_text,
)

MAX_NESTING = 80
"""Deepest nesting of blocks and parentheses a template may have (Go has 10000)."""


_OPERAND_STARTS = (
    *(golex.BOOL, golex.CHARCONST, golex.COMPLEX, golex.DOT, golex.FIELD, golex.IDENT),
    *(golex.NUMBER, golex.NIL, golex.RAWSTRING, golex.STRING, golex.VARIABLE, golex.LPAREN),
)


class _ParseError(Exception):
    def __init__(self, pos: int, msg: str) -> None:
        self.pos = pos
        self.msg = msg


def parse(text: str, name: str, funcs: set[str] | frozenset[str], filename: str) -> Template:
    """Parse a template file as template.New(name).Funcs(funcs).Parse(text) does."""
    items = Lexer(text).run()
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
        if it.typ == golex.ERROR:
            raise _ParseError(it.pos, it.val)
        if it.typ != golex.EOF:
            self.i += 1
        return it

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Item:
        it = self.items[self.i]
        if it.typ == golex.ERROR:
            raise _ParseError(it.pos, it.val)
        return it

    def next_non_space(self) -> Item:
        while True:
            it = self.next()
            if it.typ != golex.SPACE_T:
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
        if it.typ == golex.ERROR:
            raise _ParseError(it.pos, it.val)
        raise _ParseError(it.pos, f"unexpected {describe_item(it)} in {context}")

    def error(self, it: Item | Node, msg: str) -> None:
        raise _ParseError(it.pos, msg)

    def enter(self, it: Item) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _ParseError(it.pos, f"template nesting deeper than {MAX_NESTING} levels")

    # Structure.

    def parse_top(self) -> ListNode:
        root = ListNode(self.peek().pos, self.peek().line)
        while self.peek().typ != golex.EOF:
            if self.peek().typ == golex.LDELIM:
                delim = self.next()
                word = self.next_non_space()
                if word.typ == golex.KEYWORD and self.items[self.i - 1].val == "define":
                    self.parse_definition(delim)
                    continue
                # backup2: back to the delimiter.
                while self.items[self.i - 1] is not delim:
                    self.i -= 1
                self.i -= 1
            n = self.text_or_action()
            if isinstance(n, EndNode | ElseNode):
                self.error(n, f"unexpected {{{{{'end' if isinstance(n, EndNode) else 'else'}}}}}")
            root.nodes.append(n)
        return root

    def parse_definition(self, delim: Item) -> None:
        context = "define clause"
        name = self.next_non_space()
        if name.typ not in (golex.STRING, golex.RAWSTRING):
            self.unexpected(name, context)
        tname = self._unquote(name)
        self.expect(golex.RDELIM, context)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        root, end = self.item_list()
        if not isinstance(end, EndNode):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, tname, root, delim.pos)

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek().pos, self.peek().line)
        while self.peek_non_space().typ != golex.EOF:
            n = self.text_or_action()
            if isinstance(n, EndNode | ElseNode):
                return lst, n
            lst.nodes.append(n)
        it = self.peek()
        raise _ParseError(it.pos, "unexpected EOF")

    def text_or_action(self) -> Node:
        it = self.next_non_space()
        if it.typ == golex.TEXT:
            return TextNode(it.pos, it.line, it.val)
        if it.typ == golex.LDELIM:
            return self.action()
        self.unexpected(it, "input")
        raise AssertionError

    def action(self) -> Node:
        it = self.next_non_space()
        if it.typ == golex.KEYWORD:
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
                self.expect(golex.RDELIM, "end")
                return EndNode(it.pos, it.line)
            if word in ("if", "range", "with"):
                return self.control(it, word)
            if word == "template":
                return self.template_control(it)
        self.backup()
        it = self.peek()
        return ActionNode(it.pos, it.line, self.pipeline("command", golex.RDELIM))

    def break_control(self, it: Item, word: str) -> Node:
        tok = self.next_non_space()
        if tok.typ != golex.RDELIM:
            self.unexpected(tok, f"{{{{{word}}}}}")
        if self.range_depth == 0:
            self.error(it, f"{{{{{word}}}}} outside {{{{range}}}}")
        return BreakNode(it.pos, it.line) if word == "break" else ContinueNode(it.pos, it.line)

    def else_control(self, it: Item) -> Node:
        peek = self.peek_non_space()
        if peek.typ == golex.KEYWORD and peek.val == "if":
            return ElseNode(peek.pos, peek.line)
        self.expect(golex.RDELIM, "else")
        return ElseNode(it.pos, it.line)

    def control(self, it: Item, kind: str) -> Node:
        self.enter(it)
        mark = len(self.vars)
        pipe = self.pipeline(kind, golex.RDELIM)
        if kind == "range":
            self.range_depth += 1
        lst, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if isinstance(nxt, ElseNode):
            if kind == "if" and self.peek().typ == golex.KEYWORD and self.peek().val == "if":
                if_item = self.next()
                else_list = ListNode(nxt.pos, nxt.line)
                else_list.nodes.append(self.control(if_item, "if"))
            else:
                else_list, nxt = self.item_list()
                if not isinstance(nxt, EndNode):
                    self.error(nxt, "expected end; found {{else}}")
        del self.vars[mark:]
        self.depth -= 1
        return BranchNode(it.pos, it.line, kind, pipe, lst, else_list)

    def template_name(self, tok: Item, context: str) -> str:
        if tok.typ in (golex.STRING, golex.RAWSTRING):
            return self._unquote(tok)
        self.unexpected(tok, context)
        raise AssertionError

    def template_control(self, it: Item) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != golex.RDELIM:
            self.backup()
            pipe = self.pipeline(context, golex.RDELIM)
        return TemplateNode(tok.pos, tok.line, name, pipe)

    def block_control(self, it: Item) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, golex.RDELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        self.enter(it)
        root, end = self.item_list()
        self.depth -= 1
        if not isinstance(end, EndNode):
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
            if v.typ != golex.VARIABLE:
                break
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (golex.ASSIGN, golex.DECLARE):
                pipe.is_assign = nxt.typ == golex.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.typ == golex.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (golex.VARIABLE, golex.RDELIM, golex.RPAREN):
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
            if tok.typ == golex.SPACE_T:
                continue
            if tok.typ in (golex.RDELIM, golex.RPAREN):
                self.backup()
            elif tok.typ == golex.PIPE:
                pass
            else:
                self.error(tok, f"unexpected {describe_item(tok)} in operand")
            break
        if not cmd.args:
            self.error(first, "empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == golex.FIELD:
            chain_fields: list[str] = []
            while self.peek().typ == golex.FIELD:
                chain_fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                node = FieldNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, VariableNode):
                node = VariableNode(node.pos, node.line, node.ident + chain_fields)
            elif isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                self.error(node, f"unexpected . after term {node_text(node)!r}")
            else:
                node = ChainNode(node.pos, node.line, node, chain_fields)
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == golex.IDENT:
            if tok.val not in self.funcs:
                self.error(tok, f'function "{tok.val}" not defined')
            return IdentifierNode(tok.pos, tok.line, tok.val)
        if t == golex.DOT:
            return DotNode(tok.pos, tok.line)
        if t == golex.NIL:
            return NilNode(tok.pos, tok.line)
        if t == golex.VARIABLE:
            if tok.val not in self.vars:
                self.error(tok, f'undefined variable "{tok.val}"')
            return VariableNode(tok.pos, tok.line, [tok.val])
        if t == golex.FIELD:
            return FieldNode(tok.pos, tok.line, [tok.val[1:]])
        if t == golex.BOOL:
            return BoolNode(tok.pos, tok.line, tok.val == "true")
        if t in (golex.CHARCONST, golex.COMPLEX, golex.NUMBER):
            return self.number(tok)
        if t == golex.LPAREN:
            self.enter(tok)
            pipe = self.pipeline("parenthesized pipeline", golex.RPAREN)
            self.depth -= 1
            return pipe
        if t in (golex.STRING, golex.RAWSTRING):
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
