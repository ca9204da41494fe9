"""Evaluate Go template pipelines and commands (exec.go's eval* functions).

Commands, fields and map lookups, function calls with typed arguments, and the value checks
around them; the executor (confpy.gotemplate.goexec) walks the nodes and calls in here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from confpy.errors import RenderError
from confpy.golib.memkv import KeyNotFound
from confpy.golib.path import BadPattern
from confpy.gotemplate.gofuncs import BUILTIN_FUNCS, is_true
from confpy.gotemplate.gonodes import (
    BoolNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    VariableNode,
)
from confpy.gotemplate.gostate import MISSING, ExecError, MissingKeyAt, State
from confpy.gotemplate.values import (
    NULL,
    GoError,
    KVPair,
    Slice,
    Uint8,
    type_name,
)

BUILTINS = frozenset(
    {
        "and",
        "or",
        "not",
        "len",
        "index",
        "slice",
        "print",
        "printf",
        "println",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "html",
        "js",
        "urlquery",
        "call",
    }
)

_BUILTIN_SIGS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "and": (("value",), "value"),
    "or": (("value",), "value"),
    "not": (("value",), None),
    "len": (("value",), None),
    "index": (("value",), "value"),
    "slice": (("value",), "value"),
    "print": ((), "any"),
    "printf": (("string",), "any"),
    "println": ((), "any"),
    "eq": (("value",), "value"),
    "ne": (("value", "value"), None),
    "lt": (("value", "value"), None),
    "le": (("value", "value"), None),
    "gt": (("value", "value"), None),
    "ge": (("value", "value"), None),
    "html": ((), "any"),
    "js": ((), "any"),
    "urlquery": ((), "any"),
    "call": (("value",), "value"),
}


def _can_be_nil(typ: str) -> bool:
    return typ in ("any", "value") or typ.startswith("[]") or typ.startswith("map")


class Evaluator(State):
    """exec.go's eval* methods: the value of a pipeline, command, field or argument."""

    def eval_pipeline(self, dot: Any, pipe: PipeNode | None) -> Any:
        if pipe is None:
            return None
        value: Any = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is NULL:
                value = None
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v, v.ident[0], value)
            else:
                self.push(v.ident[0], value)
        return value

    def not_a_function(self, node: Node, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            raise ExecError(node, "can't give argument to non-function")

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(first, cmd.args, final)
            self.enter(first)
            try:
                return self.eval_pipeline(dot, first)
            finally:
                self.depth -= 1
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.not_a_function(first, cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise ExecError(first, "nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        raise ExecError(first, "can't evaluate command")

    def ideal_constant(self, n: NumberNode) -> Any:
        text = n.text
        if n.is_complex:
            return n.complex128
        is_hex_int = (
            len(text) > 2
            and text[0] == "0"
            and text[1] in "xX"
            and not any(c in text for c in "pP")
        )
        if n.is_float and not is_hex_int and text[0] != "'" and any(c in text for c in ".eEpP"):
            return n.float64
        if n.is_int:
            return n.int64
        if n.is_uint:
            raise ExecError(n, f"{text} overflows int")
        return None

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node], final: Any) -> Any:
        if isinstance(chain.node, NilNode):
            raise ExecError(chain, "indirection through explicit nil")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.field, args, final)

    def eval_variable(self, dot: Any, node: VariableNode, args: list[Node], final: Any) -> Any:
        value = self.var_value(node, node.ident[0])
        if len(node.ident) == 1:
            self.not_a_function(node, args, final)
            return value
        return self.eval_field_chain(dot, value, node, node.ident[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, ident: list[str], args: list[Node], final: Any
    ) -> Any:
        n = len(ident)
        for i in range(n - 1):
            receiver = self.eval_field(dot, ident[i], node, [], MISSING, receiver)
        return self.eval_field(dot, ident[n - 1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        if receiver is None:
            return None
        if receiver is NULL:
            raise ExecError(node, f"nil pointer evaluating interface {{}}.{name}")
        has_args = len(args) > 1 or final is not MISSING
        if isinstance(receiver, datetime):
            return self.time_method(dot, receiver, name, node, args, final)
        if name == "String" and hasattr(receiver, "go_string"):  # time.Month, *time.Location
            if has_args:
                raise ExecError(node, "wrong number of args for String: want 0 got 1")
            return receiver.go_string()
        if isinstance(receiver, dict):
            if has_args:
                raise ExecError(node, f"{name} is not a method but has arguments")
            return receiver.get(name)
        if isinstance(receiver, KVPair) and name in ("Key", "Value"):
            if has_args:
                raise ExecError(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        srv = type(receiver).__name__ == "SRV"
        if srv and name in ("Target", "Port", "Priority", "Weight"):
            if has_args:
                raise ExecError(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        raise ExecError(node, f"can't evaluate field {name} in type {type_name(receiver)}")

    def time_method(
        self, dot: Any, t: datetime, name: str, node: Node, args: list[Node], final: Any
    ) -> Any:
        from confpy.golib import time as b

        argv = [self.eval_arg(dot, "string" if name == "Format" else "any", a) for a in args[1:]]
        if final is not MISSING:
            argv.append(final)
        if name == "Format":
            if len(argv) != 1:
                raise ExecError(node, f"wrong number of args for Format: want 1 got {len(argv)}")
            if not isinstance(argv[0], str):
                raise ExecError(node, "wrong type for value; expected string")
            return b.go_time_format(t, argv[0])
        try:
            return b._time_method(t, name, tuple(argv))
        except RenderError as e:
            raise ExecError(node, e.reason) from None

    def eval_function(
        self, dot: Any, node: IdentifierNode, cmd: Node, args: list[Node], final: Any
    ) -> Any:
        name = node.name
        if name in self.funcs:
            sig = self.sigs[name]
            return self.eval_call(dot, self.funcs[name], False, sig, cmd, name, args, final)
        if name in BUILTINS:
            sig = _BUILTIN_SIGS[name]
            return self.eval_call(dot, BUILTIN_FUNCS[name], True, sig, cmd, name, args, final)
        raise ExecError(node, f'"{name}" is not a defined function')

    def eval_call(
        self,
        dot: Any,
        fn: Callable[..., Any],
        builtin: bool,
        sig: tuple[tuple[str, ...], str | None],
        node: Node,
        name: str,
        args: list[Node],
        final: Any,
    ) -> Any:
        args = args[1:]
        fixed, variadic = sig
        num_in = len(args) + (0 if final is MISSING else 1)
        if variadic is not None:
            if num_in < len(fixed):
                raise ExecError(
                    node,
                    f"wrong number of args for {name}: want at least {len(fixed)} got {len(args)}",
                )
        elif num_in != len(fixed):
            raise ExecError(
                node, f"wrong number of args for {name}: want {len(fixed)} got {num_in}"
            )
        if builtin and name in ("and", "or"):
            v: Any = None
            for a in args:
                v = self.eval_arg(dot, "value", a)
                if is_true(v)[0] == (name == "or"):
                    return v
            if final is not MISSING:
                v = self.validate_type(node, final, "value")
            return v
        argv: list[Any] = []
        i = 0
        while i < len(fixed) and i < len(args):
            argv.append(self.eval_arg(dot, fixed[i], args[i]))
            i += 1
        if variadic is not None:
            while i < len(args):
                argv.append(self.eval_arg(dot, variadic, args[i]))
                i += 1
        if final is not MISSING:
            if variadic is not None and num_in - 1 >= len(fixed):
                t = variadic
            else:
                t = fixed[num_in - 1] if variadic is not None else fixed[-1]
            argv.append(self.validate_type(node, final, t))
        return self.call_function(node, name, fn, [None if a is NULL else a for a in argv])

    def call_function(self, node: Node, name: str, fn: Callable[..., Any], argv: list[Any]) -> Any:
        """Call a template function; what it raises becomes Go's `error calling NAME: ...`."""
        try:
            return fn(*argv)
        except KeyNotFound as e:
            raise MissingKeyAt(node, e.key) from None
        except BadPattern as e:
            raise ExecError(node, f"error calling {name}: {e}") from None
        except GoError as e:
            raise ExecError(node, f"error calling {name}: {e}") from None
        except ExecError:
            raise
        except (RecursionError, MemoryError):
            raise ExecError(node, f"error calling {name}: value too large or too deep") from None
        except Exception as e:
            raise ExecError(node, f"error calling {name}: {type(e).__name__}") from None

    def eval_arg(self, dot: Any, typ: str | None, n: Node) -> Any:
        if isinstance(n, DotNode):
            return self.validate_type(n, dot, typ)
        if isinstance(n, NilNode):
            if typ is not None and _can_be_nil(typ):
                return _zero(typ)
            raise ExecError(n, f"cannot assign nil to {typ}")
        if isinstance(n, FieldNode):
            return self.validate_type(
                n, self.eval_field_chain(dot, dot, n, n.ident, [n], MISSING), typ
            )
        if isinstance(n, VariableNode):
            return self.validate_type(n, self.eval_variable(dot, n, [], MISSING), typ)
        if isinstance(n, PipeNode):
            self.enter(n)
            try:
                return self.validate_type(n, self.eval_pipeline(dot, n), typ)
            finally:
                self.depth -= 1
        if isinstance(n, IdentifierNode):
            return self.validate_type(n, self.eval_function(dot, n, n, [n], MISSING), typ)
        if isinstance(n, ChainNode):
            return self.validate_type(n, self.eval_chain(dot, n, [], MISSING), typ)
        return self.literal_arg(n, typ)

    def literal_arg(self, n: Node, typ: str | None) -> Any:
        """A constant argument (bool, number, string) for a parameter of type `typ`."""
        if typ is None or typ in ("any", "value"):
            if isinstance(n, BoolNode):
                return n.value
            if isinstance(n, NumberNode):
                return self.ideal_constant(n)
            if isinstance(n, StringNode):
                return n.text
        if typ == "bool" and isinstance(n, BoolNode):
            return n.value
        if typ == "int" and isinstance(n, NumberNode) and n.is_int:
            return n.int64
        if typ == "string" and isinstance(n, StringNode):
            return n.text
        expected = {"int": "integer", "bool": "bool", "string": "string"}.get(typ or "", typ)
        raise ExecError(n, f"expected {expected}; found a {type(n).__name__[:-4].lower()}")

    def validate_type(self, node: Node, value: Any, typ: str | None) -> Any:
        if value is None:
            if typ is None:
                return None
            if _can_be_nil(typ):
                return _zero(typ)
            raise ExecError(node, f"invalid value; expected {typ}")
        if typ is None or typ in ("any", "value"):
            return value
        if value is NULL:
            raise ExecError(node, f"wrong type for value; expected {typ}; got interface {{}}")
        if _assignable(value, typ):
            return value
        raise ExecError(node, f"wrong type for value; expected {typ}; got {type_name(value)}")


def _zero(typ: str) -> Any:
    if typ.startswith("[]"):
        return Slice([], typ)
    if typ.startswith("map"):
        return {}
    return None


def _assignable(value: Any, typ: str) -> bool:
    if typ == "string":
        return isinstance(value, str)
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool | Uint8)
    if typ == "bool":
        return isinstance(value, bool)
    if typ == "[]string":
        return isinstance(value, Slice) and value.gotype == "[]string"
    if typ == "[]memkv.KVPair":
        return isinstance(value, Slice) and value.gotype in ("[]memkv.KVPair", "memkv.KVPairs")
    if typ == "map[string]interface {}":
        return isinstance(value, dict)
    if typ == "[]interface {}":
        return isinstance(value, list) and type_name(value) == typ
    return False
