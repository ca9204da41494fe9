"""Turn a parsed Go template into the idiomatic Jinja2 a person would write (`confpy convert`).

A pass over the engine's own tree (`gonodes`, as Go's html/template rewrites parse.Tree):
this module walks the statements (text, actions, if/with/range blocks) after the
variables pass (`jinjavars`) has told which declaration each `$name` is; expressions are
`jinjaexpr`'s, calls `jinjacalls`', literal text `jinjatext`'s. The result renders the
same bytes as confd's Go template; what plain Jinja cannot say exactly is refused with
`NotReadable` naming file and line (confpy still runs the `.tmpl`).
"""

from __future__ import annotations

import os

from confpy.convert.calls import _RETURNS, NotReadable, Typed
from confpy.convert.expr import ExprTranslator
from confpy.convert.text import escape_text, safe_name
from confpy.convert.variables import Decl, Unresolved, Variables
from confpy.gotemplate import gonodes as n

__all__ = ["NotReadable", "translate_readable"]

_LOOP_NAMES = {
    **dict.fromkeys(("gets", "sortKVByLength"), "kv"),
    **dict.fromkeys(("ls", "lsdir"), "name"),
    **dict.fromkeys(("lookupIP", "lookupIPV4", "lookupIPV6"), "ip"),
    **{"getvs": "value", "lookupSRV": "srv", "seq": "n", "split": "part", "jsonArray": "item"},
}
_WITH_NAMES = {"get": "kv", "getv": "value", "dir": "parent", "base": "name", "json": "data"}
# Jinja's keywords, tests and globals, and the macro's names: never a variable's name.
_RESERVED = {
    *("true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if"),
    *("else", "elif", "for", "endfor", "loop", "namespace", "range", "dict", "lipsum", "self"),
    *("cycler", "joiner", "caller", "varargs", "kwargs", "ns", "go_value", "with", "set", "block"),
}
_KEYWORDS = {
    n.TemplateNode: "{{template}}",
    n.BreakNode: "{{break}}",
    n.ContinueNode: "{{continue}}",
}

# Newlines inside the macro sit before `{%-` tags, which strip them: it prints nothing extra.
_GO_VALUE_MACRO = (
    "{# go_value(v) prints v as confd's Go templates did: true, <no value>, [a b], map[k:v] #}"
    "{% macro go_value(v, top=true) %}"
    '\n  {%- if v is none %}{{ "<no value>" if top else "<nil>" }}'
    '\n  {%- elif v is boolean %}{{ "true" if v else "false" }}'
    # JSON numbers are Go floats, printed in exponent form from 1e6 on: fail loudly rather
    # than print them differently.
    "\n  {%- elif v is number and (v|abs >= 1e6 or (v and v|abs < 0.0001)) %}"
    "{{ go_value_cannot_print_this_float }}"
    "\n  {%- elif v is float and v == v|int %}{{ v|int }}"
    "\n  {%- elif v is string or v is number %}{{ v }}"
    "\n  {%- elif v is mapping %}map[{% for k, x in v|dictsort(true) %}"
    '{{ " " if not loop.first else "" }}{{ k }}:{{ go_value(x, false) }}{% endfor %}]'
    '\n  {%- else %}[{% for x in v %}{{ " " if not loop.first else "" }}'
    "{{ go_value(x, false) }}{% endfor %}]"
    "\n  {%- endif %}"
    "\n{%- endmacro %}"
)


def translate_readable(tmpl: n.Template, filename: str = "<template>") -> str:
    """Idiomatic Jinja2 for the parsed template `tmpl`; raises NotReadable."""
    root = tmpl.trees[os.path.basename(filename)]
    if len(tmpl.trees) > 1:
        raise NotReadable(
            "{{define}}/{{block}} has no plain-Jinja form; keep the .tmpl (confpy runs it as is)",
            file=filename,
            line=next(t.line for name, t in tmpl.trees.items() if t is not root),
        )
    try:
        variables = Variables(root)
    except Unresolved as e:
        raise NotReadable(
            "a variable Go finds only at run time has no plain-Jinja form; keep the .tmpl",
            file=filename,
            line=e.node.line,
        ) from None
    return _Readable(variables, filename).run(root)


class _Readable(ExprTranslator):
    """Plain Jinja with confd's function names: loops, ifs and filters a person would write."""

    def __init__(self, variables: Variables, filename: str) -> None:
        self.filename = filename
        self.decl_of = variables.decl_of
        self.used: set[str] = set(_RETURNS) | _RESERVED
        self.names: dict[int, str] = {}
        self.types: dict[int, str] = {}
        self.needs_ns = False
        self.needs_macro = False
        self.typed_dots: list[Typed] = [Typed("none", "none")]
        for decl in variables.decls:
            if decl.assigned_in_loop:
                self.needs_ns = True
                self.names[id(decl)] = "ns." + self.claim(decl.name)
            else:
                self.names[id(decl)] = self.claim(decl.name)

    def claim(self, stem: str) -> str:
        stem = safe_name(stem)
        name = stem if stem not in self.used else stem + "_"
        i = 2
        while name in self.used:
            name = f"{stem}{i}"
            i += 1
        self.used.add(name)
        return name

    def run(self, root: n.ListNode) -> str:
        body = self.stmts(root)
        prelude = ""
        if self.needs_ns:
            prelude += "{% set ns = namespace() %}"
        if self.needs_macro:
            prelude += _GO_VALUE_MACRO
        return prelude + body

    def decls(self, pipe: n.PipeNode) -> list[Decl]:
        return [d for d in (self.decl_of[id(v)] for v in pipe.decl) if d is not None]

    # Statements.

    def stmts(self, nodes: n.ListNode) -> str:
        return "".join(self.stmt(x) for x in nodes.nodes)

    def stmt(self, node: n.Node) -> str:
        if isinstance(node, n.TextNode):
            return escape_text(node.text)
        if isinstance(node, n.CommentNode):
            return "{# " + node.text[2:-2].strip().replace("#}", "# }") + " #}"
        if isinstance(node, n.BranchNode):
            return self.block(node)
        if not isinstance(node, n.ActionNode):
            raise self.fail(node.line, _KEYWORDS.get(type(node), type(node).__name__))
        value = self.rpipe(node.pipe)
        if node.pipe.decl:
            decl = self.decls(node.pipe)[0]
            if self.types.setdefault(id(decl), value.type) != value.type:
                self.types[id(decl)] = "any"
            return f"{{% set {self.var(decl)} = {value.text} %}}"
        return "{{ " + self.show(value, node.line) + " }}"

    def show(self, value: Typed, line: int) -> str:
        t = value.type
        if t in ("str", "int", "uint16"):
            return value.text
        if t == "bool":
            return f'"true" if {value.text} else "false"'
        if t in ("list:str", "list:int"):
            return f'"[" ~ {value.operand()}|join(" ") ~ "]"'
        if t == "none":
            return '"<no value>"'
        if t in ("map:any", "list:any"):
            raise self.fail(
                line, "printing a whole JSON object or array (Go prints numbers as float64)"
            )
        if t == "any":
            self.needs_macro = True
            return f"go_value({value.text})"
        raise self.fail(line, f"printing a {t} value")

    def block(self, node: n.BranchNode, chained: bool = False) -> str:
        value = self.rpipe(node.pipe)
        decls = self.decls(node.pipe)
        out: list[str] = []
        if node.kind == "range":
            return self.range_block(node, value)
        subject_t = value
        if decls:
            self.types[id(decls[0])] = value.type
            out.append(f"{{% set {self.var(decls[0])} = {value.text} %}}")
            subject_t = Typed(self.var(decls[0]), value.type)
        if node.kind == "with" and (not decls or decls[0].assigned):
            # The dot's own name: `$x = ...` in the body must not change the dot.
            subject = self.claim(self.guess_name(node.pipe, _WITH_NAMES, "it"))
            out.append(f"{{% set {subject} = {subject_t.text} %}}")
            subject_t = Typed(subject, value.type)
        keyword = "elif" if chained else "if"
        always_true = subject_t.type in ("kv", "time") and node.else_list is None
        if not always_true:
            out.append(f"{{% {keyword} {subject_t.text} %}}")
        if node.kind == "with":
            self.typed_dots.append(subject_t)
        out.append(self.stmts(node.list))
        if node.kind == "with":
            self.typed_dots.pop()
        if node.else_list is not None:
            nested = node.else_list.nodes
            if (
                len(nested) == 1
                and isinstance(nested[0], n.BranchNode)
                and nested[0].kind == "if"
                and not nested[0].pipe.decl
                and not always_true
            ):
                # `{{else if}}` without a declaration is Jinja's elif.
                return "".join(out) + self.block(nested[0], chained=True)
            out.append("{% else %}" + self.stmts(node.else_list))
        if not always_true:
            out.append("{% endif %}")
        return "".join(out)

    def range_block(self, node: n.BranchNode, value: Typed) -> str:
        decls = self.decls(node.pipe)
        t = value.type
        if t in ("none", "str", "int", "bool", "float", "kv", "time"):
            raise self.fail(node.line, f"range over a {t} value")
        elem_type = t.split(":", 1)[1] if ":" in t else "any"
        out: list[str] = []
        elem_decl = decls[-1] if decls else None
        index_decl = decls[0] if len(decls) == 2 else None
        if elem_decl is not None and not elem_decl.assigned:
            elem = self.var(elem_decl)
        else:
            elem = self.claim(self.guess_name(node.pipe, _LOOP_NAMES, "item"))
        if t.startswith("map:"):
            key = self.var(index_decl) if index_decl and not index_decl.assigned_in_loop else None
            key = key or self.claim("key")
            out.append(f"{{% for {key}, {elem} in {value.operand()}|dictsort(true) %}}")
            if index_decl is not None and index_decl.assigned_in_loop:
                out.append(f"{{% set {self.var(index_decl)} = {key} %}}")
            if index_decl is not None:
                self.types[id(index_decl)] = "str"
        elif t.startswith("list:"):
            out.append(f"{{% for {elem} in {value.operand()} %}}")
            if index_decl is not None:
                self.types[id(index_decl)] = "int"
                out.append(f"{{% set {self.var(index_decl)} = loop.index0 %}}")
        else:
            if index_decl is not None:
                raise self.fail(node.line, "range with an index over a value of unknown kind")
            src = value.operand()
            out.append(
                f"{{% for {elem} in ({src}|dictsort(true)|map(attribute=1)|list"
                f" if {src} is mapping else {src}) %}}"
            )
        if elem_decl is not None:
            self.types[id(elem_decl)] = elem_type
            if elem_decl.assigned:  # `$e = ...` in the body must not change the dot
                out.append(f"{{% set {self.var(elem_decl)} = {elem} %}}")
        self.typed_dots.append(Typed(elem, elem_type))
        out.append(self.stmts(node.list))
        self.typed_dots.pop()
        if node.else_list is not None:
            out.append("{% else %}" + self.stmts(node.else_list))
        out.append("{% endfor %}")
        return "".join(out)

    def guess_name(self, pipe: n.PipeNode, table: dict[str, str], default: str) -> str:
        last = pipe.cmds[-1].args[0]
        if isinstance(last, n.IdentifierNode) and last.name in table:
            return table[last.name]
        return default
