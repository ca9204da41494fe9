"""Go pipelines and operands (dot, fields, variables, literals) as typed Jinja expressions.

`ExprTranslator` tracks what the dot and each variable hold, so a field or a call is
spelled for its kind; calls themselves are `jinjacalls`'. `translate` walks the
statements on top of it.
"""

from __future__ import annotations

from confpy.gotemplate.jinjacalls import CallTranslator, Typed
from confpy.gotemplate.jinjatext import jinja_literal, jinja_string
from confpy.gotemplate.parsenodes import (
    Chain,
    Decl,
    Dot,
    Field,
    Ident,
    Literal,
    Node,
    Paren,
    Pipeline,
    Var,
)
from confpy.gotemplate.parsenodes import (
    Command as Cmd,
)

_KEY_FUNCS = {"getv", "get", "exists", "gets", "getvs", "ls", "lsdir"}


def _clean_key(key: str) -> bool:
    """True when memkv finds `key` as confpy's normalising lookup does."""
    if key in ("/",):
        return True
    if not key.startswith("/") or key.endswith("/") or "//" in key:
        return False
    return all(p not in (".", "..") for p in key.split("/")[1:])


class ExprTranslator(CallTranslator):
    """Translates pipelines and operands; the statement walk (`translate`) sets the state."""

    names: dict[int, str]
    """Each declaration's (by id) Jinja name."""
    types: dict[int, str]
    """Each declaration's (by id) kind of value, as in `Typed.type`."""
    typed_dots: list[Typed]
    """The dot of each enclosing `with`/`range`, innermost last."""

    def var(self, decl: Decl) -> str:
        return self.names[id(decl)]

    # Expressions.

    def rpipe(self, pipe: Pipeline, line: int) -> Typed:
        value: Typed | None = None
        for cmd in pipe.cmds:
            value = self.rcommand(cmd, value)
        assert value is not None
        return value

    def rcommand(self, cmd: Cmd, final: Typed | None) -> Typed:
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

    def rexpr(self, node: Node, line: int) -> Typed:
        if isinstance(node, Dot):
            return self.typed_dots[-1]
        if isinstance(node, Literal):
            if isinstance(node.value, str) and any("\udc80" <= c <= "\udcff" for c in node.value):
                raise self.fail(line, "a string literal holding bytes that are not UTF-8")
            kinds = {"string": "str", "int": "int", "float": "float", "bool": "bool", "nil": "none"}
            return Typed(jinja_literal(node), kinds[node.kind])
        if isinstance(node, Ident):
            return self.rcall(node, [], line)
        if isinstance(node, Paren):
            inner = self.rpipe(node.pipe, line)
            return Typed(inner.text if inner.atomic else f"({inner.text})", inner.type)
        base, names = self.rbase(node, line)
        for name in names:
            base = self.rfield(base, name, line)
        return base

    def rbase(self, node: Field | Chain | Var, line: int) -> tuple[Typed, tuple[str, ...]]:
        if isinstance(node, Field):
            return self.typed_dots[-1], node.names
        if isinstance(node, Var):
            if node.decl is None:
                return Typed("none", "none"), node.names
            return Typed(self.var(node.decl), self.types.get(id(node.decl), "any")), node.names
        inner = self.rexpr(node.node, line)
        return Typed(inner.text if inner.atomic else f"({inner.text})", inner.type), node.names

    def rfield(self, base: Typed, name: str, line: int) -> Typed:
        if base.type == "none":
            return Typed("none", "none")
        if base.type == "kv" and name in ("Key", "Value"):
            return Typed(f"{base.text}.{name}", "str")
        if base.type == "srv" and name in ("Target", "Port", "Priority", "Weight"):
            return Typed(f"{base.text}.{name}", "str" if name == "Target" else "int")
        if base.type == "time":
            return self.rmethod(base, name, [], line)
        key = jinja_string(name)
        if base.type.startswith("map:"):
            # A missing map key is nil in Go: .get() gives None, which go_value prints as Go does.
            return Typed(f"{base.text}.get({key})", "any", lookup=(base.text, key))
        if base.type == "any":
            if base.lookup is not None:
                # `.b.c` under a missing `.b` is nil in Go; under a JSON null, an error.
                m, k = base.lookup
                text = f"({m}[{k}] if {k} in {m} else {{}}).get({key})"
                return Typed(text, "any", lookup=(f"({m}[{k}] if {k} in {m} else {{}})", key))
            return Typed(f"{base.text}.get({key})", "any", lookup=(base.text, key))
        raise self.fail(line, f"field .{name} on a {base.type}")
