"""Parse lexed Go text/template source into the `parsenodes` tree, for `convert`.

Refuses what the translator cannot express (`template`, `define`, complex numbers...).
Variables are resolved to their declaration here, so the translator can give each
declaration its own Jinja name.
"""

from __future__ import annotations

from confpy.errors import TemplateSyntaxError
from confpy.gotemplate.goeval import BUILTINS
from confpy.gotemplate.lexer import Action, Comment, Text, Token, lex
from confpy.gotemplate.parsenodes import (
    ActionNode,
    Chain,
    Command,
    CommentNode,
    Decl,
    Dot,
    Field,
    Ident,
    IfNode,
    Literal,
    Node,
    Paren,
    Pipeline,
    Stmt,
    TextNode,
    Tree,
    Var,
)
from confpy.gotemplate.unquote import go_unquote

# The functions text/template itself provides; confd's are added by the caller.
# text/template's builtin function names: the engine's list, so the two never differ.
GO_BUILTINS = BUILTINS


def parse(source: str, filename: str, functions: frozenset[str] | set[str]) -> Tree:
    """Parse `source`; `functions` are the names a template may call besides Go's builtins."""
    return _Parser(source, filename, set(functions) | GO_BUILTINS).parse()


class _Parser:
    def __init__(self, source: str, filename: str, functions: set[str]) -> None:
        self.filename = filename
        self.functions = functions
        self.items = lex(source, filename).items
        self.i = 0
        self.scopes: list[dict[str, Decl]] = [{}]
        self.decls: list[Decl] = []
        self.loop_depth = 0

    # Errors.

    def error_at(self, line: int, col: int, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"column {col}: {message}", file=self.filename, line=line)

    # Statements.

    def parse(self) -> Tree:
        body, end = self.parse_list()
        if end is not None:
            word = end.tokens[0].value
            raise self.error_at(end.line, end.col, f"unexpected {{{{{word}}}}}")
        return Tree(body, self.decls)

    def parse_list(self) -> tuple[list[Stmt], Action | None]:
        """Statements up to an `{{else}}`/`{{end}}` action (returned, not consumed) or EOF."""
        out: list[Stmt] = []
        while self.i < len(self.items):
            item = self.items[self.i]
            if isinstance(item, Text):
                out.append(TextNode(item.text, item.line))
                self.i += 1
                continue
            if isinstance(item, Comment):
                out.append(CommentNode(item.text, item.line))
                self.i += 1
                continue
            toks = item.tokens
            if not toks:
                raise self.error_at(item.line, item.col, "missing value for command")
            first = toks[0]
            if first.kind == "keyword":
                if first.value in ("else", "end"):
                    return out, item
                self.i += 1
                out.append(self.parse_keyword(item))
                continue
            self.i += 1
            pipe = self.parse_pipeline(item, toks, allow_decl=True)
            out.append(ActionNode(pipe, item.line))
        return out, None

    def parse_keyword(self, item: Action) -> Stmt:
        word = item.tokens[0]
        if word.value in ("if", "with", "range"):
            return self.parse_block(item, word.value, item.tokens[1:])
        raise self.error_at(
            word.line,
            word.col,
            f"{{{{{word.value}}}}} has no plain-Jinja form in convert; keep the .tmpl "
            "(confpy runs it as is)",
        )

    def parse_block(self, item: Action, kind: str, toks: list[Token]) -> IfNode:
        if not toks:
            raise self.error_at(item.line, item.col, f"missing value for {kind}")
        self.scopes.append({})
        if kind == "range":
            self.loop_depth += 1
        pipe = self.parse_pipeline(item, toks, allow_decl=True, range_decl=kind == "range")
        self.scopes.append({})
        body, end = self.parse_list()
        self.scopes.pop()
        node = IfNode(kind, pipe, body, None, item.line)
        if end is None:
            raise self.error_at(
                item.line, item.col, f"unexpected EOF: {{{{{kind}}}}} has no {{{{end}}}}"
            )
        self.i += 1
        if end.tokens[0].value == "else":
            rest = end.tokens[1:]
            if kind == "range":
                self.loop_depth -= 1
            if rest:
                if rest[0].kind != "keyword" or rest[0].value not in ("if", "with"):
                    raise self.error_at(rest[0].line, rest[0].col, "unexpected token in {{else}}")
                # `{{else if x}}` is `{{else}}{{if x}}...{{end}}{{end}}` sharing one end.
                node.else_body = [self.parse_block(end, rest[0].value, rest[1:])]
                node.else_chain = True
                self.scopes.pop()
                return node
            self.scopes.append({})
            else_body, end2 = self.parse_list()
            self.scopes.pop()
            if end2 is None or end2.tokens[0].value != "end":
                where = end2 or end
                raise self.error_at(
                    where.line, where.col, f"expected {{{{end}}}} for {{{{{kind}}}}}"
                )
            self.i += 1
            node.else_body = else_body
            self.check_end(end2)
            self.scopes.pop()
            return node
        self.check_end(end)
        if kind == "range":
            self.loop_depth -= 1
        self.scopes.pop()
        return node

    def check_end(self, end: Action) -> None:
        if len(end.tokens) > 1:
            t = end.tokens[1]
            raise self.error_at(t.line, t.col, "unexpected token in {{end}}")

    # Pipelines.

    def parse_pipeline(
        self, item: Action, toks: list[Token], *, allow_decl: bool, range_decl: bool = False
    ) -> Pipeline:
        decl_names: list[Token] = []
        assign = False
        # `$x :=`, `$x =`, and for range `$i, $v :=`.
        if toks and toks[0].kind == "var":
            if len(toks) > 1 and toks[1].kind in ("declare", "assign"):
                decl_names = [toks[0]]
                assign = toks[1].kind == "assign"
                toks = toks[2:]
            elif (
                range_decl
                and len(toks) > 3
                and toks[1].kind == "comma"
                and toks[2].kind == "var"
                and toks[3].kind in ("declare", "assign")
            ):
                decl_names = [toks[0], toks[2]]
                assign = toks[3].kind == "assign"
                toks = toks[4:]
        if decl_names and not allow_decl:
            t = decl_names[0]
            raise self.error_at(t.line, t.col, "variable declaration not allowed here")
        pos = 0
        pipe = Pipeline([], assign=assign)
        pipe.cmds, pos = self.parse_cmds(item, toks, 0, closing=None)
        if pos != len(toks):
            t = toks[pos]
            raise self.error_at(t.line, t.col, f"unexpected {t.value!r} in pipeline")
        if not pipe.cmds:
            raise self.error_at(item.line, item.col, "missing value for command")
        for t in decl_names:
            if assign:
                decl = self.lookup(t)
                if decl.loop_depth < self.loop_depth:
                    decl.assigned_in_loop = True
            else:
                decl = Decl(t.value[1:], t.line, loop_depth=self.loop_depth)
                self.decls.append(decl)
            pipe.decls.append(decl)
        # Declared only after the pipeline is parsed: `$x := $x` reads the outer `$x`.
        if not assign:
            for d in pipe.decls:
                self.scopes[-1][d.name] = d
        return pipe

    def lookup(self, t: Token) -> Decl:
        name = t.value[1:]
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise self.error_at(t.line, t.col, f'undefined variable "{t.value}"')

    def parse_cmds(
        self, item: Action, toks: list[Token], pos: int, closing: str | None
    ) -> tuple[list[Command], int]:
        cmds: list[Command] = []
        while True:
            start = pos
            args: list[Node] = []
            while pos < len(toks) and toks[pos].kind not in ("pipe", "rparen"):
                node, pos = self.parse_operand(item, toks, pos)
                args.append(node)
            if not args:
                t = toks[start] if start < len(toks) else None
                if t is None:
                    raise self.error_at(item.line, item.col, "missing value for command")
                raise self.error_at(t.line, t.col, f"missing value before {t.value!r}")
            first = toks[start]
            if isinstance(args[0], Literal) and args[0].kind == "nil":
                raise self.error_at(first.line, first.col, "nil is not a command")
            if len(args) > 1 and not isinstance(args[0], Ident | Field | Chain | Var):
                raise self.error_at(
                    first.line, first.col, f"can't give argument to non-function {first.value}"
                )
            cmds.append(Command(args, first.line, first.col))
            if pos < len(toks) and toks[pos].kind == "pipe":
                pos += 1
                if pos >= len(toks) or toks[pos].kind == "rparen":
                    bar = toks[pos - 1]
                    raise self.error_at(bar.line, bar.col, "missing command after |")
                continue
            return cmds, pos

    def parse_operand(self, item: Action, toks: list[Token], pos: int) -> tuple[Node, int]:
        t = toks[pos]
        node: Node
        pos += 1
        if t.kind == "field":
            path = [t.value]
            while _adjacent_field(toks, pos):
                path.append(toks[pos].value)
                pos += 1
            return Field(tuple(path)), pos
        if t.kind == "var":
            decl = None if t.value == "$" else self.lookup(t)
            node = Var(t.value, decl)
        elif t.kind == "dot":
            node = Dot()
        elif t.kind == "ident":
            if t.value not in self.functions:
                raise self.error_at(t.line, t.col, f'function "{t.value}" not defined')
            node = Ident(t.value, t.line, t.col)
        elif t.kind in ("string", "rawstring", "char"):
            node = Literal(*_string_value(self, t))
        elif t.kind == "number":
            node = Literal(*_number_value(self, t))
        elif t.kind == "bool":
            node = Literal(t.value == "true", "bool")
        elif t.kind == "nil":
            node = Literal(None, "nil")
        elif t.kind == "lparen":
            cmds, pos = self.parse_cmds(item, toks, pos, closing=")")
            if pos >= len(toks) or toks[pos].kind != "rparen":
                raise self.error_at(t.line, t.col, "unclosed left paren")
            pos += 1
            node = Paren(Pipeline(cmds))
        elif t.kind == "keyword":
            raise self.error_at(t.line, t.col, f"unexpected keyword {t.value!r} inside an action")
        else:
            raise self.error_at(t.line, t.col, f"unexpected {t.value!r} in operand")
        return self.with_fields(node, t, toks, pos)

    def with_fields(self, node: Node, t: Token, toks: list[Token], pos: int) -> tuple[Node, int]:
        """`$x.a.b`, `(pipe).a`: the fields written right after an operand."""
        names: list[str] = []
        while _adjacent_field(toks, pos):
            names.append(toks[pos].value)
            pos += 1
        if names:
            if isinstance(node, Var):
                node.names = tuple(names)
            elif isinstance(node, Literal | Dot):
                raise self.error_at(t.line, t.col, f"unexpected . after term {t.value!r}")
            else:
                node = Chain(node, tuple(names))
        return node, pos


def _adjacent_field(toks: list[Token], pos: int) -> bool:
    return pos < len(toks) and toks[pos].kind == "field" and toks[pos].adjacent


def _string_value(p: _Parser, t: Token) -> tuple[str | int, str]:
    if t.kind == "rawstring":
        return t.value.replace("\r", ""), "string"
    try:
        value = go_unquote(t.value)
    except ValueError as e:
        raise p.error_at(t.line, t.col, f"bad quoted string {t.value}: {e}") from None
    if t.kind == "char":
        if len(value) != 1:
            raise p.error_at(t.line, t.col, f"malformed character constant: {t.value}")
        return ord(value), "int"
    return value, "string"


def _number_value(p: _Parser, t: Token) -> tuple[int | float, str]:
    text = t.value.replace("_", "")
    if text.endswith("i"):
        raise p.error_at(
            t.line, t.col, f"complex number {t.value} has no plain-Jinja form; keep the .tmpl"
        )
    low = text.lower().lstrip("+-")
    try:
        if low.startswith(("0x", "0b", "0o")) and "." not in low and "p" not in low:
            return int(text, 0), "int"
        if low.startswith("0x"):
            return float.fromhex(text), "float"
        if any(ch in low for ch in ".e"):
            return float(text), "float"
        if len(low) > 1 and low.startswith("0"):
            # Go reads a leading 0 as octal.
            sign = -1 if text.startswith("-") else 1
            return sign * int(low, 8), "int"
        return int(text), "int"
    except ValueError:
        raise p.error_at(t.line, t.col, f"bad number syntax: {t.value}") from None
