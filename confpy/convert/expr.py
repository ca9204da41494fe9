"""Go pipelines and operands (dot, fields, variables, literals) as typed Jinja expressions.

`ExprTranslator` tracks what the dot and each variable hold, so a field or a call is
spelled for its kind; calls themselves are `jinjacalls`'. `translate` walks the
statements on top of it.
"""

from __future__ import annotations

from confpy.convert.calls import CallTranslator, Typed
from confpy.convert.text import jinja_number, jinja_string, number_kind
from confpy.convert.variables import Decl
from confpy.gotemplate import gonodes as n

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
    decl_of: dict[int, Decl | None]
    """Each variable node's (by id) declaration (the variables pass)."""

    def var(self, decl: Decl) -> str:
        return self.names[id(decl)]

    # Expressions.

    def rpipe(self, pipe: n.PipeNode) -> Typed:
        value: Typed | None = None
        for cmd in pipe.cmds:
            value = self.rcommand(cmd, value)
        assert value is not None
        return value

    def rcommand(self, cmd: n.CommandNode, final: Typed | None) -> Typed:
        first = cmd.args[0]
        if isinstance(first, n.IdentifierNode):
            self.check_confd_only(first.name, cmd)
        args = [self.rexpr(a) for a in cmd.args[1:]]
        if final is not None:
            args.append(final)
        if isinstance(first, n.IdentifierNode):
            return self.rcall(first.name, args, cmd.line)
        if isinstance(first, n.FieldNode | n.ChainNode | n.VariableNode) and args:
            base, names = self.rbase(first)
            if names:
                for name in names[:-1]:
                    base = self.rfield(base, name, cmd.line)
                return self.rmethod(base, names[-1], args, cmd.line)
        if args or isinstance(first, n.NilNode):
            raise self.fail(cmd.line, "an argument to a non-function, or nil,", "is an error in Go")
        return self.rexpr(first)

    def check_confd_only(self, name: str, cmd: n.CommandNode) -> None:
        """Refuse calls whose Jinja spelling would behave unlike confd's Go function."""
        args = cmd.args[1:]
        if name in _KEY_FUNCS and args and isinstance(args[0], n.StringNode):
            key = args[0].text
            if name in ("ls", "lsdir") and key == "/":
                raise self.fail(
                    cmd.line, f'{name} "/": confd lists only the keys right under the root there'
                )
            if not _clean_key(key):
                raise self.fail(
                    cmd.line,
                    f"{name} of {key!r}: confd looks keys up exactly as written "
                    "(no leading slash, or a trailing or double slash, finds nothing)",
                )
        if name in ("reverse", "sortByLength", "sortKVByLength") and (
            not args or not isinstance(args[0], n.PipeNode | n.IdentifierNode)
        ):
            raise self.fail(cmd.line, f"{name} of a variable (confd changes it in place)")

    def rexpr(self, node: n.Node) -> Typed:
        if isinstance(node, n.DotNode):
            return self.typed_dots[-1]
        if isinstance(node, n.StringNode):
            if any("\udc80" <= c <= "\udcff" for c in node.text):
                raise self.fail(node.line, "a string literal holding bytes that are not UTF-8")
            return Typed(jinja_string(node.text), "str", value=node.text)
        if isinstance(node, n.NumberNode):
            kind = number_kind(node)
            if kind is None:
                raise self.fail(node.line, f"the number {node.text}")
            return Typed(jinja_number(node, kind), kind)
        if isinstance(node, n.BoolNode):
            return Typed("true" if node.value else "false", "bool")
        if isinstance(node, n.NilNode):
            return Typed("none", "none")
        if isinstance(node, n.IdentifierNode):
            return self.rcall(node.name, [], node.line)
        if isinstance(node, n.PipeNode):
            return self.rpipe(node)  # parenthesised where it is an operand
        if isinstance(node, n.FieldNode | n.ChainNode | n.VariableNode):
            base, names = self.rbase(node)
            for name in names:
                base = self.rfield(base, name, node.line)
            return base
        raise self.fail(node.line, type(node).__name__)

    def rbase(self, node: n.FieldNode | n.ChainNode | n.VariableNode) -> tuple[Typed, list[str]]:
        if isinstance(node, n.FieldNode):
            return self.typed_dots[-1], node.ident
        if isinstance(node, n.VariableNode):
            decl = self.decl_of[id(node)]
            if decl is None:
                return Typed("none", "none"), node.ident[1:]
            return Typed(self.var(decl), self.types.get(id(decl), "any")), node.ident[1:]
        inner = self.rexpr(node.node)
        return Typed(inner.operand(), inner.type), node.field

    def rfield(self, base: Typed, name: str, line: int) -> Typed:
        if base.type == "none":
            return Typed("none", "none")
        if base.type == "kv" and name in ("Key", "Value"):
            return Typed(f"{base.text}.{name}", "str")
        if base.type == "srv" and name in ("Target", "Port", "Priority", "Weight"):
            return Typed(f"{base.text}.{name}", "str" if name == "Target" else "uint16")
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
