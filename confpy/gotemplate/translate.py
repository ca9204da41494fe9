"""Turn a parsed Go template into Jinja2 source that renders the same bytes.

Two modes share this walk. The exact mode (used when confpy runs a `.tmpl`) routes every
value through Go's semantics (`_go_out`, `_go_field`, `_go_range`, ...) and keeps each
Go line on the same Jinja line. The readable mode (used by `confpy convert`) writes the
idiomatic Jinja a person would write, and refuses what plain Jinja cannot say exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confpy import funcs
from confpy.errors import TemplateSyntaxError
from confpy.gotemplate.parser import (
    Chain,
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
    parse,
)
from confpy.gotemplate.parser import (
    Command as Cmd,
)

CONFD_FUNCTIONS = frozenset(funcs.STATIC_FUNCTIONS) | frozenset(funcs.KEY_FUNCTION_NAMES)

_GO_CALLS = {
    "print": "_go_print",
    "printf": "_go_printf",
    "println": "_go_println",
    "len": "_go_len",
    "index": "_go_index",
    "slice": "_go_slice",
    "eq": "_go_eq",
    "ne": "_go_ne",
    "lt": "_go_lt",
    "le": "_go_le",
    "gt": "_go_gt",
    "ge": "_go_ge",
    "html": "_go_html",
    "js": "_go_js",
    "urlquery": "_go_urlquery",
}


def translate(source: str, filename: str = "<template>") -> str:
    """Jinja2 source rendering exactly what text/template renders from `source`."""
    tree = parse(source, filename, CONFD_FUNCTIONS)
    return _Exact(tree, filename).run()


def jinja_string(s: str) -> str:
    """A Jinja string literal for `s` (Jinja decodes backslash escapes in literals)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def escape_text(text: str) -> str:
    """Literal text Jinja passes through unchanged.

    Jinja would open a tag at `{{`, `{%` or `{#` (also when our own tag follows a trailing
    `{`) and would turn `\\r\\n` into `\\n`; those characters are written as expressions.
    """
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch == "{" and (i + 1 == n or text[i + 1] in "{%#"):
            out.append("{{ '{' }}")
        elif ch == "\r":
            out.append('{{ "\\r" }}')
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class _Scope:
    dot: str


class _Exact:
    """The exact mode: every Go semantic through `_go_*` helpers, lines preserved."""

    def __init__(self, tree: Tree, filename: str) -> None:
        self.tree = tree
        self.filename = filename
        self.names: dict[int, str] = {}
        self.counter = 0
        self.dots: list[str] = ["none"]
        for i, decl in enumerate(tree.decls, start=1):
            self.names[id(decl)] = f"_gv.{_safe(decl.name)}_{i}"

    def run(self) -> str:
        body = self.stmts(self.tree.body)
        if self.tree.decls:
            # One namespace holds every variable: Go lets `$x = ...` inside a range change
            # the `$x` declared outside it, which plain Jinja `set` cannot do.
            body = "{% set _gv = namespace() %}" + body
        return body

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"_{stem}{self.counter}"

    def error(self, line: int, col: int, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"column {col}: {message}", file=self.filename, line=line)

    # Statements.

    def stmts(self, nodes: list[Stmt]) -> str:
        return "".join(self.stmt(n) for n in nodes)

    def stmt(self, node: Stmt) -> str:
        if isinstance(node, TextNode):
            text = escape_text(node.text)
            if node.trimmed_newlines:
                text += "{#" + "\n" * node.trimmed_newlines + "#}"
            return text
        if isinstance(node, CommentNode):
            return "{#" + "\n" * node.text.count("\n") + "#}"
        if isinstance(node, IfNode):
            return self.block(node)
        pipe = node.pipe
        nl = "\n" * node.newlines
        value = self.pipeline(pipe)
        if pipe.decls:
            return f"{{% set {self.var(pipe.decls[0])} = {value}{nl} %}}"
        return f"{{{{ _go_out({value}){nl} }}}}"

    def var(self, decl: Decl) -> str:
        return self.names[id(decl)]

    def block(self, node: IfNode, chained: bool = False) -> str:
        nl = "\n" * node.newlines
        value = self.pipeline(node.pipe)
        out: list[str] = []
        if node.kind == "range":
            key, elem = self.fresh("k"), self.fresh("e")
            out.append(f"{{% for {key}, {elem} in _go_range({value}){nl} %}}")
            decls = node.pipe.decls
            if len(decls) == 1:
                out.append(f"{{% set {self.var(decls[0])} = {elem} %}}")
            elif len(decls) == 2:
                out.append(f"{{% set {self.var(decls[0])} = {key} %}}")
                out.append(f"{{% set {self.var(decls[1])} = {elem} %}}")
            self.dots.append(elem)
            out.append(self.stmts(node.body))
            self.dots.pop()
            if node.else_body is not None:
                out.append(self.else_part(node))
            out.append("{% endfor" + "\n" * node.end_newlines + " %}")
            return "".join(out)
        if node.pipe.decls:
            subject = self.var(node.pipe.decls[0])
            out.append(f"{{% set {subject} = {value} %}}")
        elif node.kind == "with":
            subject = self.fresh("w")
            out.append(f"{{% set {subject} = {value} %}}")
        else:
            subject = value
        out.append(f"{{% if _go_truth({subject}){nl} %}}")
        if node.kind == "with":
            self.dots.append(subject)
        out.append(self.stmts(node.body))
        if node.kind == "with":
            self.dots.pop()
        if node.else_body is not None:
            out.append(self.else_part(node))
        out.append("{% endif" + "\n" * node.end_newlines + " %}")
        return "".join(out)

    def else_part(self, node: IfNode) -> str:
        assert node.else_body is not None
        if node.else_chain:
            # `{{else if}}` nests a block whose own tag carries the else action's newlines.
            return "{% else %}" + self.stmts(node.else_body)
        return "{% else" + "\n" * node.else_newlines + " %}" + self.stmts(node.else_body)

    # Expressions.

    def pipeline(self, pipe: Pipeline) -> str:
        value: str | None = None
        for cmd in pipe.cmds:
            value = self.command(cmd, value)
        assert value is not None
        return value

    def command(self, cmd: Cmd, final: str | None) -> str:
        first = cmd.args[0]
        args = [self.expr(a) for a in cmd.args[1:]]
        if final is not None:
            args.append(final)
        if isinstance(first, Ident):
            return self.call(first, args)
        if isinstance(first, Field | Chain | Var) and _names(first):
            if args:
                # A method call: the last field receives the arguments.
                base, names = self.base_and_names(first)
                for name in names[:-1]:
                    base = self.field(base, name, [])
                return self.field(base, names[-1], args)
            return self.expr(first)
        if args:
            raise self.error(cmd.line, cmd.col, "can't give argument to non-function")
        return self.expr(first)

    def call(self, ident: Ident, args: list[str]) -> str:
        name = ident.name
        if name in ("and", "or"):
            if not args:
                raise self.error(
                    ident.line, ident.col, f"wrong number of args for {name}: want at least 1"
                )
            # Python's and/or return the deciding value and short-circuit, as Go's do.
            return "(" + f" {name} ".join(args) + ")"
        if name == "not":
            if len(args) != 1:
                raise self.error(
                    ident.line, ident.col, f"wrong number of args for not: want 1 got {len(args)}"
                )
            return f"_go_not({args[0]})"
        if name == "call":
            raise self.error(
                ident.line, ident.col, "call is not supported: confd has no function values"
            )
        target = _GO_CALLS.get(name, name)
        return f"{target}({', '.join(args)})"

    def base_and_names(self, node: Field | Chain | Var) -> tuple[str, tuple[str, ...]]:
        if isinstance(node, Field):
            return self.dots[-1], node.names
        if isinstance(node, Var):
            return self.var_base(node), node.names
        return self.expr(node.node), node.names

    def var_base(self, node: Var) -> str:
        return "none" if node.decl is None else self.var(node.decl)

    def field(self, base: str, name: str, args: list[str]) -> str:
        return f"_go_field({', '.join([base, jinja_string(name), *args])})"

    def expr(self, node: Node) -> str:
        if isinstance(node, Dot):
            return self.dots[-1]
        if isinstance(node, Literal):
            return _literal(node)
        if isinstance(node, Ident):
            return self.call(node, [])
        if isinstance(node, Paren):
            return f"({self.pipeline(node.pipe)})"
        if isinstance(node, Field | Chain | Var):
            base, names = self.base_and_names(node)
            for name in names:
                base = self.field(base, name, [])
            return base
        raise AssertionError(node)


def _names(node: Field | Chain | Var) -> tuple[str, ...]:
    return node.names


def _literal(node: Literal) -> str:
    v = node.value
    if node.kind == "string":
        assert isinstance(v, str)
        return jinja_string(v)
    if node.kind == "bool":
        return "true" if v else "false"
    if node.kind == "nil":
        return "none"
    if node.kind == "float":
        assert isinstance(v, float)
        text = repr(v)
        return f"({text})" if text.startswith("-") else text
    return f"({v})" if isinstance(v, int) and v < 0 else str(v)


_IDENT_RE = re.compile(r"[^A-Za-z0-9_]")


def _safe(name: str) -> str:
    return _IDENT_RE.sub("_", name) or "root"
