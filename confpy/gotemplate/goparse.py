"""Go text/template's parser, as Go 1.19 has it, for the direct engine.

With golex (lex.go), gonodes (node.go) and goliterals (strconv), it follows
text/template/parse: the same tokens, trim markers, comments, number syntax, the same
parse-time errors (undefined
function or variable, `{{break}}` outside a range, ...) and a tree of the same nodes,
including `define`, `block`, `template`, `break` and `continue`. Errors are confpy's
TemplateSyntaxError with the file, line and `column N:`. Nesting is bounded explicitly
(MAX_NESTING) so no template can exhaust Python's stack.

The structure of a template is parsed here; the pipelines inside actions are
confpy.gotemplate.goparseexpr's.
"""

from __future__ import annotations

from confpy.errors import TemplateSyntaxError
from confpy.gotemplate import goitems, gonodes
from confpy.gotemplate.goitems import Item
from confpy.gotemplate.golex import Lexer
from confpy.gotemplate.goparseexpr import ExprParser, ParseError


def parse(
    text: str, name: str, funcs: set[str] | frozenset[str], filename: str, comments: bool = False
) -> gonodes.Template:
    """Parse a template file as template.New(name).Funcs(funcs).Parse(text) does; with
    `comments`, as Go's ParseComments mode (CommentNodes, for `convert`)."""
    items = Lexer(text, comments).run()
    trees: dict[str, gonodes.ListNode] = {}
    p = _Parser(items, funcs, trees)
    try:
        root = p.parse_top()
        _add(trees, name, root, 0)
    except ParseError as e:
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
        raise ParseError(pos, f"template: multiple definition of template {name!r}")


class _Parser(ExprParser):
    """text/template/parse's Tree: lists of text and actions, control structures, definitions."""

    # Structure.

    def parse_top(self) -> gonodes.ListNode:
        root = gonodes.ListNode(self.peek().pos, self.peek().line)
        while self.peek().typ != goitems.EOF:
            if self.peek().typ == goitems.LDELIM:
                delim = self.next()
                word = self.next_non_space()
                if word.typ == goitems.KEYWORD and self.items[self.i - 1].val == "define":
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
        if name.typ not in (goitems.STRING, goitems.RAWSTRING):
            self.unexpected(name, context)
        tname = self._unquote(name)
        self.expect(goitems.RDELIM, context)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        root, end = self.item_list()
        if not isinstance(end, gonodes.EndNode):
            self.error(end, f"unexpected {{{{else}}}} in {context}")
        self.vars, self.range_depth = saved_vars, saved_depth
        _add(self.trees, tname, root, delim.pos)

    def item_list(self) -> tuple[gonodes.ListNode, gonodes.Node]:
        lst = gonodes.ListNode(self.peek().pos, self.peek().line)
        while self.peek_non_space().typ != goitems.EOF:
            n = self.text_or_action()
            if isinstance(n, gonodes.EndNode | gonodes.ElseNode):
                return lst, n
            lst.nodes.append(n)
        it = self.peek()
        raise ParseError(it.pos, "unexpected EOF")

    def text_or_action(self) -> gonodes.Node:
        it = self.next_non_space()
        if it.typ == goitems.TEXT:
            return gonodes.TextNode(it.pos, it.line, it.val)
        if it.typ == goitems.LDELIM:
            return self.action()
        if it.typ == goitems.COMMENT:
            return gonodes.CommentNode(it.pos, it.line, it.val)
        self.unexpected(it, "input")
        raise AssertionError

    def action(self) -> gonodes.Node:
        it = self.next_non_space()
        if it.typ == goitems.KEYWORD:
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
                self.expect(goitems.RDELIM, "end")
                return gonodes.EndNode(it.pos, it.line)
            if word in ("if", "range", "with"):
                return self.control(it, word)
            if word == "template":
                return self.template_control(it)
        self.backup()
        it = self.peek()
        return gonodes.ActionNode(it.pos, it.line, self.pipeline("command", goitems.RDELIM))

    def break_control(self, it: Item, word: str) -> gonodes.Node:
        tok = self.next_non_space()
        if tok.typ != goitems.RDELIM:
            self.unexpected(tok, f"{{{{{word}}}}}")
        if self.range_depth == 0:
            self.error(it, f"{{{{{word}}}}} outside {{{{range}}}}")
        if word == "break":
            return gonodes.BreakNode(it.pos, it.line)
        return gonodes.ContinueNode(it.pos, it.line)

    def else_control(self, it: Item) -> gonodes.Node:
        peek = self.peek_non_space()
        if peek.typ == goitems.KEYWORD and peek.val == "if":
            return gonodes.ElseNode(peek.pos, peek.line)
        self.expect(goitems.RDELIM, "else")
        return gonodes.ElseNode(it.pos, it.line)

    def control(self, it: Item, kind: str) -> gonodes.Node:
        self.enter(it)
        mark = len(self.vars)
        pipe = self.pipeline(kind, goitems.RDELIM)
        if kind == "range":
            self.range_depth += 1
        lst, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_list: gonodes.ListNode | None = None
        if isinstance(nxt, gonodes.ElseNode):
            if kind == "if" and self.peek().typ == goitems.KEYWORD and self.peek().val == "if":
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
        if tok.typ in (goitems.STRING, goitems.RAWSTRING):
            return self._unquote(tok)
        self.unexpected(tok, context)
        raise AssertionError

    def template_control(self, it: Item) -> gonodes.Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != goitems.RDELIM:
            self.backup()
            pipe = self.pipeline(context, goitems.RDELIM)
        return gonodes.TemplateNode(tok.pos, tok.line, name, pipe)

    def block_control(self, it: Item) -> gonodes.Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, goitems.RDELIM)
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
