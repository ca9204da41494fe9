"""Turn a parsed Go template into the idiomatic Jinja2 a person would write (`convert`).

The result renders the same bytes as confd's Go template; what plain Jinja cannot say
exactly is refused with `NotReadable` (confpy still runs the `.tmpl` as it is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confpy import funcs, keyfuncs
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

CONFD_FUNCTIONS = frozenset(funcs.STATIC_FUNCTIONS) | frozenset(keyfuncs.KEY_FUNCTION_NAMES)
CONFD_FUNCTIONS |= {"each"}  # `{{ (each).Name }}` in a file of an `each` resource (issue 14)


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


_KEY_FUNCS = {"getv", "get", "exists", "gets", "getvs", "ls", "lsdir"}


def _clean_key(key: str) -> bool:
    """True when memkv finds `key` as confpy's normalising lookup does."""
    if key in ("/",):
        return True
    if not key.startswith("/") or key.endswith("/") or "//" in key:
        return False
    return all(p not in (".", "..") for p in key.split("/")[1:])


def _safe(name: str) -> str:
    if name.isidentifier() and name.isascii() is False:
        return name  # Jinja takes Unicode names, as Go does.
    return _IDENT_RE.sub("_", name) or "root"


_STR_FUNCS = {
    "getv",
    "base",
    "dir",
    "replace",
    "base64Encode",
    "base64Decode",
    "getenv",
    "toUpper",
    "toLower",
    "trimSuffix",
    "join",
    "printf",
    "print",
    "println",
    "html",
    "js",
    "urlquery",
}
_RETURNS: dict[str, str] = {
    **{f: "str" for f in _STR_FUNCS},
    "getvs": "list:str",
    "ls": "list:str",
    "lsdir": "list:str",
    "split": "list:str",
    "sortByLength": "list:str",
    "lookupIP": "list:str",
    "lookupIPV4": "list:str",
    "lookupIPV6": "list:str",
    "gets": "list:kv",
    "sortKVByLength": "list:kv",
    "get": "kv",
    "lookupSRV": "list:srv",
    "exists": "bool",
    "fileExists": "bool",
    "contains": "bool",
    "parseBool": "bool",
    "eq": "bool",
    "ne": "bool",
    "lt": "bool",
    "le": "bool",
    "gt": "bool",
    "ge": "bool",
    "not": "bool",
    "json": "map:any",
    "map": "map:any",
    "jsonArray": "list:any",
    "atoi": "int",
    "add": "int",
    "sub": "int",
    "mul": "int",
    "div": "int",
    "mod": "int",
    "len": "int",
    "seq": "list:int",
    "datetime": "time",
}
_LOOP_NAMES = {
    "gets": "kv",
    "sortKVByLength": "kv",
    "getvs": "value",
    "ls": "name",
    "lsdir": "name",
    "lookupIP": "ip",
    "lookupIPV4": "ip",
    "lookupIPV6": "ip",
    "lookupSRV": "srv",
    "seq": "n",
    "split": "part",
    "jsonArray": "item",
}
_WITH_NAMES = {"get": "kv", "getv": "value", "dir": "parent", "base": "name", "json": "data"}
_RESERVED = {
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "for",
    "endfor",
    "loop",
    "namespace",
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "self",
    "caller",
    "varargs",
    "kwargs",
    "ns",
    "go_value",
    "with",
    "set",
    "block",
}
# Go layout elements with an exact strftime equivalent (glibc's %-d drops the padding).
_STRFTIME = {
    "January": "%B",
    "Jan": "%b",
    "Monday": "%A",
    "Mon": "%a",
    "MST": "%Z",
    "2006": "%Y",
    "06": "%y",
    "01": "%m",
    "1": "%-m",
    "02": "%d",
    "2": "%-d",
    "15": "%H",
    "03": "%I",
    "3": "%-I",
    "04": "%M",
    "4": "%-M",
    "05": "%S",
    "5": "%-S",
    "PM": "%p",
    "-0700": "%z",
    "002": "%j",
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


class NotReadable(TemplateSyntaxError):
    """The construct has no exact plain-Jinja spelling; the `.tmpl` still runs as it is."""


@dataclass
class _Typed:
    text: str
    type: str = "any"
    atomic: bool = True
    lookup: tuple[str, str] | None = None
    """For `m.get("k")`: the map expression and the quoted key (nil vs missing in Go)."""


def translate_readable(source: str, filename: str = "<template>") -> str:
    """Idiomatic Jinja2 for `source`, for people to keep editing; raises NotReadable."""
    tree = parse(source, filename, CONFD_FUNCTIONS)
    return _Readable(tree, filename).run()


class _Readable:
    """Plain Jinja with confd's function names: loops, ifs and filters a person would write."""

    def __init__(self, tree: Tree, filename: str) -> None:
        self.tree = tree
        self.filename = filename
        self.used: set[str] = set(CONFD_FUNCTIONS) | _RESERVED
        self.names: dict[int, str] = {}
        self.types: dict[int, str] = {}
        self.needs_ns = False
        self.needs_macro = False
        self.typed_dots: list[_Typed] = [_Typed("none", "none")]
        self.line = 1
        for decl in tree.decls:
            if decl.assigned_in_loop:
                self.needs_ns = True
                self.names[id(decl)] = "ns." + self.claim(decl.name)
            else:
                self.names[id(decl)] = self.claim(decl.name)

    def claim(self, stem: str) -> str:
        stem = _safe(stem)
        name = stem if stem not in self.used else stem + "_"
        n = 2
        while name in self.used:
            name = f"{stem}{n}"
            n += 1
        self.used.add(name)
        return name

    def error(self, line: int, col: int, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"column {col}: {message}", file=self.filename, line=line)

    def fail(self, line: int, what: str) -> NotReadable:
        return NotReadable(
            f"{what} has no exact plain-Jinja form; keep the .tmpl (confpy runs it as is)",
            file=self.filename,
            line=line,
        )

    def run(self) -> str:
        body = self.stmts(self.tree.body)
        prelude = ""
        if self.needs_ns:
            prelude += "{% set ns = namespace() %}"
        if self.needs_macro:
            prelude += _GO_VALUE_MACRO
        return prelude + body

    # Statements.

    def stmts(self, nodes: list[Stmt]) -> str:
        return "".join(self.stmt(n) for n in nodes)

    def stmt(self, node: Stmt) -> str:
        if isinstance(node, TextNode):
            return escape_text(node.text)
        if isinstance(node, CommentNode):
            return "{# " + node.text.strip().replace("#}", "# }") + " #}"
        if isinstance(node, IfNode):
            return self.block(node)
        self.line = node.line
        value = self.rpipe(node.pipe, node.line)
        if node.pipe.decls:
            decl = node.pipe.decls[0]
            self.types.setdefault(id(decl), value.type)
            if not node.pipe.assign and self.types[id(decl)] != value.type:
                self.types[id(decl)] = "any"
            return f"{{% set {self.var(decl)} = {value.text} %}}"
        return "{{ " + self.show(value) + " }}"

    def var(self, decl: Decl) -> str:
        return self.names[id(decl)]

    def show(self, value: _Typed) -> str:
        t = value.type
        if t in ("str", "int"):
            return value.text
        if t == "bool":
            return f'"true" if {value.text} else "false"'
        if t in ("list:str", "list:int"):
            return f'"[" ~ {value.text}|join(" ") ~ "]"'
        if t == "none":
            return '"<no value>"'
        if t in ("map:any", "list:any"):
            raise self.fail(
                self.line, "printing a whole JSON object or array (Go prints numbers as float64)"
            )
        if t == "any":
            self.needs_macro = True
            return f"go_value({value.text})"
        raise self.fail(self.line, f"printing a {t} value")

    def block(self, node: IfNode, chained: bool = False) -> str:
        value = self.rpipe(node.pipe, node.line)
        decls = node.pipe.decls
        out: list[str] = []
        if node.kind == "range":
            return self.range_block(node, value)
        if decls:
            subject = self.var(decls[0])
            self.types[id(decls[0])] = value.type
            out.append(f"{{% set {subject} = {value.text} %}}")
            subject_t = _Typed(subject, value.type)
        elif node.kind == "with":
            subject = self.claim(self.guess_name(node.pipe, _WITH_NAMES, "it"))
            out.append(f"{{% set {subject} = {value.text} %}}")
            subject_t = _Typed(subject, value.type)
        else:
            subject_t = value
        keyword = "elif" if chained else "if"
        always_true = subject_t.type in ("kv", "time") and node.else_body is None
        if not always_true:
            out.append(f"{{% {keyword} {self.cond(subject_t)} %}}")
        if node.kind == "with":
            self.typed_dots.append(subject_t)
        out.append(self.stmts(node.body))
        if node.kind == "with":
            self.typed_dots.pop()
        if node.else_body is not None:
            nested = node.else_body[0] if node.else_chain else None
            if (
                isinstance(nested, IfNode)
                and nested.kind == "if"
                and not nested.pipe.decls
                and not always_true
            ):
                # `{{else if}}` without a declaration is Jinja's elif.
                return "".join(out) + self.block(nested, chained=True)
            out.append("{% else %}" + self.stmts(node.else_body))
        if not always_true:
            out.append("{% endif %}")
        return "".join(out)

    def range_block(self, node: IfNode, value: _Typed) -> str:
        decls = node.pipe.decls
        t = value.type
        if t in ("none", "str", "int", "bool", "float", "kv", "time"):
            raise self.fail(node.line, f"range over a {t} value (Go refuses or skips it)")
        elem_type = t.split(":", 1)[1] if ":" in t else "any"
        out: list[str] = []
        elem_decl = decls[-1] if decls else None
        index_decl = decls[0] if len(decls) == 2 else None
        if elem_decl is not None and not elem_decl.assigned_in_loop:
            elem = self.var(elem_decl)
        else:
            elem = self.claim(self.guess_name(node.pipe, _LOOP_NAMES, "item"))
        if t.startswith("map:"):
            key = self.var(index_decl) if index_decl and not index_decl.assigned_in_loop else None
            key = key or self.claim("key")
            out.append(f"{{% for {key}, {elem} in {value.text}|dictsort(true) %}}")
            if index_decl is not None and index_decl.assigned_in_loop:
                out.append(f"{{% set {self.var(index_decl)} = {key} %}}")
            if index_decl is not None:
                self.types[id(index_decl)] = "str"
        elif t.startswith("list:"):
            out.append(f"{{% for {elem} in {value.text} %}}")
            if index_decl is not None:
                self.types[id(index_decl)] = "int"
                out.append(f"{{% set {self.var(index_decl)} = loop.index0 %}}")
        else:
            if index_decl is not None:
                raise self.fail(node.line, "range with an index over a value of unknown kind")
            src = value.text if value.atomic else f"({value.text})"
            out.append(
                f"{{% for {elem} in ({src}|dictsort(true)|map(attribute=1)|list"
                f" if {src} is mapping else {src}) %}}"
            )
        if elem_decl is not None:
            self.types[id(elem_decl)] = elem_type
            if elem_decl.assigned_in_loop:
                out.append(f"{{% set {self.var(elem_decl)} = {elem} %}}")
        self.typed_dots.append(_Typed(elem, elem_type))
        out.append(self.stmts(node.body))
        self.typed_dots.pop()
        if node.else_body is not None:
            out.append("{% else %}" + self.stmts(node.else_body))
        out.append("{% endfor %}")
        return "".join(out)

    def guess_name(self, pipe: Pipeline, table: dict[str, str], default: str) -> str:
        last = pipe.cmds[-1].args[0]
        if isinstance(last, Ident) and last.name in table:
            return table[last.name]
        return default

    def cond(self, value: _Typed) -> str:
        return value.text

    # Expressions.

    def rpipe(self, pipe: Pipeline, line: int) -> _Typed:
        value: _Typed | None = None
        for cmd in pipe.cmds:
            value = self.rcommand(cmd, value)
        assert value is not None
        return value

    def rcommand(self, cmd: Cmd, final: _Typed | None) -> _Typed:
        first = cmd.args[0]
        if isinstance(first, Ident):
            self.check_confd_only(first, cmd)
        args = [self.rexpr(a, cmd.line) for a in cmd.args[1:]]
        if final is not None:
            args.append(final)
        if isinstance(first, Ident):
            return self.rcall(first, args, cmd.line)
        if isinstance(first, Field | Chain | Var) and first.names and args:
            base, names = self.rbase(first, cmd.line)
            for name in names[:-1]:
                base = self.rfield(base, name, cmd.line)
            return self.rmethod(base, names[-1], args, cmd.line)
        if args:
            raise self.error(cmd.line, cmd.col, "can't give argument to non-function")
        return self.rexpr(first, cmd.line)

    def check_confd_only(self, ident: Ident, cmd: Cmd) -> None:
        """Refuse calls whose Jinja spelling would behave unlike confd's Go function."""
        name, args = ident.name, cmd.args[1:]
        if name in _KEY_FUNCS and args and isinstance(args[0], Literal):
            key = args[0].value
            if name in ("ls", "lsdir") and key == "/":
                raise self.fail(
                    cmd.line, f'{name} "/": confd lists only the keys right under the root there'
                )
            if isinstance(key, str) and not _clean_key(key):
                raise self.fail(
                    cmd.line,
                    f"{name} of {key!r}: confd looks keys up exactly as written "
                    "(no leading slash, or a trailing or double slash, finds nothing)",
                )
        if name in ("reverse", "sortByLength", "sortKVByLength") and (
            not args or not isinstance(args[0], Paren | Ident)
        ):
            raise self.fail(cmd.line, f"{name} of a variable (confd changes it in place)")

    def rexpr(self, node: Node, line: int) -> _Typed:
        if isinstance(node, Dot):
            return self.typed_dots[-1]
        if isinstance(node, Literal):
            if isinstance(node.value, str) and any("\udc80" <= c <= "\udcff" for c in node.value):
                raise self.fail(line, "a string literal holding bytes that are not UTF-8")
            kinds = {"string": "str", "int": "int", "float": "float", "bool": "bool", "nil": "none"}
            return _Typed(_literal(node), kinds[node.kind])
        if isinstance(node, Ident):
            return self.rcall(node, [], line)
        if isinstance(node, Paren):
            inner = self.rpipe(node.pipe, line)
            return _Typed(inner.text if inner.atomic else f"({inner.text})", inner.type)
        base, names = self.rbase(node, line)
        for name in names:
            base = self.rfield(base, name, line)
        return base

    def rbase(self, node: Field | Chain | Var, line: int) -> tuple[_Typed, tuple[str, ...]]:
        if isinstance(node, Field):
            return self.typed_dots[-1], node.names
        if isinstance(node, Var):
            if node.decl is None:
                return _Typed("none", "none"), node.names
            return _Typed(self.var(node.decl), self.types.get(id(node.decl), "any")), node.names
        inner = self.rexpr(node.node, line)
        return _Typed(inner.text if inner.atomic else f"({inner.text})", inner.type), node.names

    def rfield(self, base: _Typed, name: str, line: int) -> _Typed:
        if base.type == "none":
            return _Typed("none", "none")
        if base.type == "kv" and name in ("Key", "Value"):
            return _Typed(f"{base.text}.{name}", "str")
        if base.type == "srv" and name in ("Target", "Port", "Priority", "Weight"):
            return _Typed(f"{base.text}.{name}", "str" if name == "Target" else "int")
        if base.type == "time":
            return self.rmethod(base, name, [], line)
        key = jinja_string(name)
        if base.type.startswith("map:"):
            # A missing map key is nil in Go: .get() gives None, which go_value prints as Go does.
            return _Typed(f"{base.text}.get({key})", "any", lookup=(base.text, key))
        if base.type == "any":
            if base.lookup is not None:
                # `.b.c` under a missing `.b` is nil in Go; under a JSON null, an error.
                m, k = base.lookup
                text = f"({m}[{k}] if {k} in {m} else {{}}).get({key})"
                return _Typed(text, "any", lookup=(f"({m}[{k}] if {k} in {m} else {{}})", key))
            return _Typed(f"{base.text}.get({key})", "any", lookup=(base.text, key))
        raise self.fail(line, f"field .{name} on a {base.type}")

    def rmethod(self, base: _Typed, name: str, args: list[_Typed], line: int) -> _Typed:
        if base.type == "time" and name == "Format" and len(args) == 1:
            layout = args[0].text
            if args[0].type != "str" or not layout.startswith('"'):
                raise self.fail(line, "Format with a computed layout")
            from confpy.gotemplate.parser import _go_unquote

            fmt = _strftime(_go_unquote(layout))
            if fmt is None:
                raise self.fail(line, f"time layout {layout}")
            return _Typed(f"{base.text}.strftime({jinja_string(fmt)})", "str")
        if base.type == "time" and name in ("Year", "Day", "Hour", "Minute", "Second") and not args:
            return _Typed(f"{base.text}.{name.lower()}", "int")
        raise self.fail(line, f"method .{name}")

    def rcall(self, ident: Ident, args: list[_Typed], line: int) -> _Typed:
        name = ident.name
        if name not in ("and", "or", "not", "print", "printf", "println") and any(
            a.type == "none" for a in args
        ):
            raise self.fail(line, f"{name} of nil (Go refuses or prints it its own way)")
        texts = [a.text if a.atomic else f"({a.text})" for a in args]
        if name in ("and", "or"):
            if not args:
                raise self.error(ident.line, ident.col, f"wrong number of args for {name}")
            types = {a.type for a in args}
            return _Typed(f" {name} ".join(texts), types.pop() if len(types) == 1 else "any", False)
        if name == "not":
            return _Typed(f"not {texts[0]}", "bool", False)
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return self.rcompare(name, args, texts, line)
        if name == "len":
            if args[0].type == "str":
                return _Typed(f'{texts[0]}.encode("utf-8")|length', "int", False)
            return _Typed(f"{texts[0]}|length", "int", False)
        if name == "index":
            return self.rindex(args, texts, line)
        if name == "printf":
            return self.rprintf(args, line)
        if name == "print" and all(a.type in ("str", "int") for a in args):
            parts: list[str] = []
            for i, a in enumerate(args):
                if i and a.type != "str" and args[i - 1].type != "str":
                    parts.append('" "')
                parts.append(texts[i])
            return _Typed(" ~ ".join(parts) or '""', "str", len(parts) == 1)
        if name in ("print", "println", "html", "js", "urlquery", "slice", "call"):
            raise self.fail(line, name)
        self.refuse_untranslatable(name, args, line)
        if name == "reverse":
            return _Typed(f"{name}({', '.join(texts)})", args[0].type)
        return _Typed(f"{name}({', '.join(texts)})", _RETURNS.get(name, "any"))

    def rcompare(self, name: str, args: list[_Typed], texts: list[str], line: int) -> _Typed:
        known = {a.type for a in args} & {"str", "int", "float", "bool"}
        if len(known) > 1 or (name != "eq" and "bool" in known):
            raise self.fail(line, f"{name} of values of different kinds (an error in Go)")
        op = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[name]
        if name == "eq" and len(texts) > 2:
            return _Typed(" or ".join(f"{texts[0]} == {t}" for t in texts[1:]), "bool", False)
        return _Typed(f"{texts[0]} {op} {texts[1]}", "bool", False)

    def rindex(self, args: list[_Typed], texts: list[str], line: int) -> _Typed:
        if args[0].type == "str":
            raise self.fail(line, "index of a string (Go gives a byte)")
        out = args[0]
        for idx in texts[1:]:
            elem = out.type.split(":", 1)[1] if ":" in out.type else "any"
            if out.type.startswith("map:"):
                out = _Typed(f"{out.text}.get({idx})", elem)
            elif idx.startswith("(-"):
                raise self.fail(line, "index with a negative number (an error in Go)")
            elif out.type.startswith("list:"):
                out = _Typed(f"{out.text}[{idx}]", elem)
            elif idx.startswith('"'):
                out = _Typed(f"{out.text}.get({idx})", "any")
            elif idx.lstrip("(-").rstrip(")").isdigit():
                out = _Typed(f"{out.text}[{idx}]", "any")
            else:
                raise self.fail(line, "index of a value of unknown kind")
        return out

    def refuse_untranslatable(self, name: str, args: list[_Typed], line: int) -> None:
        """Calls whose Go behaviour depends on argument kinds convert cannot know: refused."""
        if name == "sortByLength" and [a.type for a in args] != ["list:str"]:
            raise self.fail(line, "sortByLength of anything but a list of strings")
        if name == "sortKVByLength" and [a.type for a in args] != ["list:kv"]:
            raise self.fail(line, "sortKVByLength of anything but a list of key-value pairs")
        if name == "join" and [a.type for a in args] != ["list:str", "str"]:
            raise self.fail(line, "join of anything but a list of strings and a string")
        if name == "reverse" and (not args or args[0].type != "list:str"):
            raise self.fail(line, "reverse of anything but a list of strings")
        if name in ("add", "sub", "mul", "div", "mod", "seq") and any(
            a.type != "int" for a in args
        ):
            raise self.fail(line, f"{name} of a value that is not known to be an integer")

    def rprintf(self, args: list[_Typed], line: int) -> _Typed:
        if not args or args[0].type != "str" or not args[0].text.startswith('"'):
            raise self.fail(line, "printf with a computed format")
        from confpy.gotemplate.parser import _go_unquote

        fmt = _go_unquote(args[0].text)
        rest = args[1:]
        verbs = re.findall(r"%([-+ 0#]*\d*(?:\.\d+)?)([a-zA-Z%])", fmt)
        used = [v for v in verbs if v[1] != "%"]
        if len(used) != len(rest):
            raise self.fail(line, "printf with mismatched arguments")
        py: list[str] = []
        for (flags, verb), arg in zip(used, rest, strict=True):
            ok = (verb in "sv" and arg.type in ("str", "int")) or (
                verb in "dxXo" and arg.type == "int"
            )
            if not ok or "#" in flags or "." in flags:
                raise self.fail(line, f"printf %{flags}{verb} of a {arg.type}")
            py.append("s" if verb == "v" else verb)
        it = iter(py)
        converted = re.sub(
            r"%([-+ 0#]*\d*(?:\.\d+)?)([a-zA-Z%])",
            lambda m: "%%" if m.group(2) == "%" else "%" + m.group(1) + next(it),
            fmt,
        )
        if not rest:
            return _Typed(jinja_string(fmt.replace("%%", "%")), "str")
        texts = [a.text if a.atomic else f"({a.text})" for a in rest]
        return _Typed(f"{jinja_string(converted)}|format({', '.join(texts)})", "str", False)


def _strftime(layout: str) -> str | None:
    from confpy.gotemplate.builtins import _next_chunk

    out: list[str] = []
    i = 0
    while i < len(layout):
        chunk, width = _next_chunk(layout, i)
        if chunk is None:
            out.append(layout[i : i + width].replace("%", "%%"))
        elif chunk in _STRFTIME:
            out.append(_STRFTIME[chunk])
        else:
            return None
        i += width
    return "".join(out)
