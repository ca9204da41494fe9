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
from confpy.gotemplate import golex, gonodes
from confpy.gotemplate.golex import Item, Lexer, describe_item
from confpy.gotemplate.goliterals import new_number, unquote

MAX_NESTING = 80
"""Deepest nesting of blocks and parentheses a template may have (Go has 10000)."""


_OPERAND_STARTS = (
    *(golex.BOOL, golex.CHARCONST, golex.COMPLEX, golex.DOT, golex.FIELD, golex.IDENT),
    *(golex.NUMBER, golex.NIL, golex.RAWSTRING, golex.STRING, golex.VARIABLE, golex.LPAREN),
)


# Operands that are constants: no command may follow them in a pipeline, no field them.
_CONSTANTS: tuple[type[gonodes.Node], ...] = (gonodes.BoolNode, gonodes.DotNode, gonodes.NilNode)
_CONSTANTS += (gonodes.NumberNode, gonodes.StringNode)


class _ParseError(Exception):
    def __init__(self, pos: int, msg: str) -> None:
        self.pos = pos
        self.msg = msg


def parse(
    text: str, name: str, funcs: set[str] | frozenset[str], filename: str
) -> gonodes.Template:
    """Parse a template file as template.New(name).Funcs(funcs).Parse(text) does."""
    items = Lexer(text).run()
    trees: dict[str, gonodes.ListNode] = {}
    p = _Parser(items, funcs, trees)
    try:
        root = p.parse_top()
        _add(trees, name, root, 0)
    except _ParseError as e:
        line = text.count("\n", 0, e.pos) + 1
        col = e.pos - (text.rfind("\n", 0, e.pos) + 1) + 1
        raise TemplateSyntaxError(f"column {col}: {e.msg}", file=filename, line=line) from None
    return gonodes.Template(name, trees)


def _add(trees: dict[str, gonodes.ListNode], name: str, root: gonodes.ListNode, pos: int) -> None:
    old = trees.get(name)
    if old is None or gonodes.is_empty_tree(old):
        trees[name] = root
        return
    if not gonodes.is_empty_tree(root):
        raise _ParseError(pos, f"template: multiple definition of template {name!r}")


class _Parser:
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

    def error(self, it: Item | gonodes.Node, msg: str) -> None:
        raise _ParseError(it.pos, msg)

    def enter(self, it: Item) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _ParseError(it.pos, f"template nesting deeper than {MAX_NESTING} levels")

    # Structure.

    def parse_top(self) -> gonodes.ListNode:
        root = gonodes.ListNode(self.peek().pos, self.peek().line)
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
            if isinstance(n, gonodes.EndNode | gonodes.ElseNode):
                closing = "end" if isinstance(n, gonodes.EndNode) else "else"
                self.error(n, f"unexpected {{{{{closing}}}}}")
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
        if not isinstance(end, gonodes.EndNode):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, tname, root, delim.pos)

    def item_list(self) -> tuple[gonodes.ListNode, gonodes.Node]:
        lst = gonodes.ListNode(self.peek().pos, self.peek().line)
        while self.peek_non_space().typ != golex.EOF:
            n = self.text_or_action()
            if isinstance(n, gonodes.EndNode | gonodes.ElseNode):
                return lst, n
            lst.nodes.append(n)
        it = self.peek()
        raise _ParseError(it.pos, "unexpected EOF")

    def text_or_action(self) -> gonodes.Node:
        it = self.next_non_space()
        if it.typ == golex.TEXT:
            return gonodes.TextNode(it.pos, it.line, it.val)
        if it.typ == golex.LDELIM:
            return self.action()
        self.unexpected(it, "input")
        raise AssertionError

    def action(self) -> gonodes.Node:
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
                return gonodes.EndNode(it.pos, it.line)
            if word in ("if", "range", "with"):
                return self.control(it, word)
            if word == "template":
                return self.template_control(it)
        self.backup()
        it = self.peek()
        return gonodes.ActionNode(it.pos, it.line, self.pipeline("command", golex.RDELIM))

    def break_control(self, it: Item, word: str) -> gonodes.Node:
        tok = self.next_non_space()
        if tok.typ != golex.RDELIM:
            self.unexpected(tok, f"{{{{{word}}}}}")
        if self.range_depth == 0:
            self.error(it, f"{{{{{word}}}}} outside {{{{range}}}}")
        if word == "break":
            return gonodes.BreakNode(it.pos, it.line)
        return gonodes.ContinueNode(it.pos, it.line)

    def else_control(self, it: Item) -> gonodes.Node:
        peek = self.peek_non_space()
        if peek.typ == golex.KEYWORD and peek.val == "if":
            return gonodes.ElseNode(peek.pos, peek.line)
        self.expect(golex.RDELIM, "else")
        return gonodes.ElseNode(it.pos, it.line)

    def control(self, it: Item, kind: str) -> gonodes.Node:
        self.enter(it)
        mark = len(self.vars)
        pipe = self.pipeline(kind, golex.RDELIM)
        if kind == "range":
            self.range_depth += 1
        lst, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: gonodes.ListNode | None = None
        if isinstance(nxt, gonodes.ElseNode):
            if kind == "if" and self.peek().typ == golex.KEYWORD and self.peek().val == "if":
                if_item = self.next()
                else_list = gonodes.ListNode(nxt.pos, nxt.line)
                else_list.nodes.append(self.control(if_item, "if"))
            else:
                else_list, nxt = self.item_list()
                if not isinstance(nxt, gonodes.EndNode):
                    self.error(nxt, "expected end; found {{else}}")
        del self.vars[mark:]
        self.depth -= 1
        return gonodes.BranchNode(it.pos, it.line, kind, pipe, lst, else_list)

    def template_name(self, tok: Item, context: str) -> str:
        if tok.typ in (golex.STRING, golex.RAWSTRING):
            return self._unquote(tok)
        self.unexpected(tok, context)
        raise AssertionError

    def template_control(self, it: Item) -> gonodes.Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != golex.RDELIM:
            self.backup()
            pipe = self.pipeline(context, golex.RDELIM)
        return gonodes.TemplateNode(tok.pos, tok.line, name, pipe)

    def block_control(self, it: Item) -> gonodes.Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, golex.RDELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        self.enter(it)
        root, end = self.item_list()
        self.depth -= 1
        if not isinstance(end, gonodes.EndNode):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, name, root, it.pos)
        return gonodes.TemplateNode(tok.pos, tok.line, name, pipe)

    # Pipelines.

    def pipeline(self, context: str, end: str) -> gonodes.PipeNode:
        tok = self.peek_non_space()
        pipe = gonodes.PipeNode(tok.pos, tok.line)
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
                pipe.decl.append(gonodes.VariableNode(v.pos, v.line, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.typ == golex.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(gonodes.VariableNode(v.pos, v.line, [v.val]))
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

    def operand(self) -> gonodes.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == golex.FIELD:
            chain_fields: list[str] = []
            while self.peek().typ == golex.FIELD:
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
        if t == golex.IDENT:
            if tok.val not in self.funcs:
                self.error(tok, f'function "{tok.val}" not defined')
            return gonodes.IdentifierNode(tok.pos, tok.line, tok.val)
        if t == golex.DOT:
            return gonodes.DotNode(tok.pos, tok.line)
        if t == golex.NIL:
            return gonodes.NilNode(tok.pos, tok.line)
        if t == golex.VARIABLE:
            if tok.val not in self.vars:
                self.error(tok, f'undefined variable "{tok.val}"')
            return gonodes.VariableNode(tok.pos, tok.line, [tok.val])
        if t == golex.FIELD:
            return gonodes.FieldNode(tok.pos, tok.line, [tok.val[1:]])
        if t == golex.BOOL:
            return gonodes.BoolNode(tok.pos, tok.line, tok.val == "true")
        if t in (golex.CHARCONST, golex.COMPLEX, golex.NUMBER):
            return self.number(tok)
        if t == golex.LPAREN:
            self.enter(tok)
            pipe = self.pipeline("parenthesized pipeline", golex.RPAREN)
            self.depth -= 1
            return pipe
        if t in (golex.STRING, golex.RAWSTRING):
            return gonodes.StringNode(tok.pos, tok.line, tok.val, self._unquote(tok))
        self.backup()
        return None

    def _unquote(self, tok: Item) -> str:
        try:
            return unquote(tok.val)
        except ValueError as e:
            raise _ParseError(tok.pos, str(e)) from None

    def number(self, tok: Item) -> gonodes.NumberNode:
        try:
            return new_number(tok.pos, tok.line, tok.val, tok.typ)
        except ValueError as e:
            raise _ParseError(tok.pos, str(e)) from None
