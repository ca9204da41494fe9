"""Execute a parsed Go template directly, with text/template's semantics (exec.go).

Truth, variable scoping (a stack popped at the end of each block), range over slices and
over maps in key order, `break`/`continue`, `template`/`block`, pipelines whose value
becomes the last argument, typed function arguments, field and map lookups, and fmt's
printing. A failure is a RenderError naming the file, line and column, never a value.
Depth is bounded (MAX_DEPTH) so nothing relies on Python's recursion limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from confpy.errors import MissingKeyError, RenderError
from confpy.gotemplate import gofmt
from confpy.gotemplate.confdfuncs import GoError, MissingKey, url_query
from confpy.gotemplate.gonodes import (
    ActionNode as _ActionNode,
)
from confpy.gotemplate.gonodes import (
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
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
)
from confpy.gotemplate.values import (
    NULL,
    ZERO_OF,
    KVPair,
    NilMap,
    Slice,
    Uint8,
    go_bytes,
    go_str_less_key,
    kind,
    type_name,
)

MAX_DEPTH = 100
"""Deepest nesting of template calls and blocks while executing (Go allows 100000 calls)."""

MAX_OUTPUT = 256 * 1024 * 1024
"""Largest output a template may produce, in characters."""

MAX_STEPS = 5_000_000
"""Most actions one execution may run (a template calling itself twice never ends)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
"""No final value from a previous pipeline stage."""


class ExecError(Exception):
    def __init__(self, node: Node | None, msg: str) -> None:
        super().__init__(msg)
        self.node = node
        self.msg = msg


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


BUILTINS = frozenset(
    {"and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne",
     "lt", "le", "gt", "ge", "html", "js", "urlquery", "call"}
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


class Executor:
    """One execution of a template: output, variable stack, depth."""

    def __init__(
        self, tmpl: Template, source: str, filename: str,
        funcs: dict[str, Callable[..., Any]],
        sigs: dict[str, tuple[tuple[str, ...], str | None]],
        prefix: str = "",
    ) -> None:
        self.tmpl = tmpl
        self.source = source
        self.filename = filename
        self.funcs = funcs
        self.sigs = sigs
        self.prefix = prefix
        self.out: list[str] = []
        self.size = 0
        self.vars: list[tuple[str, Any]] = []
        self.depth = 0
        self.steps = 0

    # Errors.

    def where(self, node: Node | None) -> tuple[int | None, str]:
        if node is None:
            return None, ""
        col = node.pos - (self.source.rfind("\n", 0, node.pos) + 1) + 1
        return node.line, f"column {col}: "

    def run(self) -> str:
        root = self.tmpl.trees.get(self.tmpl.name)
        if root is None:
            raise RenderError(
                f'template "{self.tmpl.name}" is an incomplete or empty template',
                file=self.filename,
            )
        self.vars = [("$", None)]
        try:
            self.walk(None, root)
        except ExecError as e:
            line, col = self.where(e.node)
            raise RenderError(col + e.msg, file=self.filename, line=line) from None
        except _MissingKey as e:
            line, col = self.where(e.node)
            raise MissingKeyError(
                (self.prefix + e.key) if self.prefix else e.key, file=self.filename, line=line
            ) from None
        return "".join(self.out)

    # Variables.

    def push(self, name: str, value: Any) -> None:
        self.vars.append((name, value))

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, node: Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise ExecError(node, f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any) -> None:
        name = self.vars[-n][0]
        self.vars[-n] = (name, value)

    def var_value(self, node: Node, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise ExecError(node, f"undefined variable: {name}")

    # Walking.

    def enter(self, node: Node) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExecError(node, f"exceeded maximum template depth ({MAX_DEPTH})")

    def write(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_OUTPUT:
            raise ExecError(None, f"output larger than {MAX_OUTPUT} characters")
        self.out.append(s)

    def walk(self, dot: Any, node: Node) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExecError(node, f"template execution exceeded {MAX_STEPS} steps")
        if isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, TextNode):
            self.write(node.text)
        elif isinstance(node, _ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, BranchNode):
            self.enter(node)
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
            self.depth -= 1
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break()
        elif isinstance(node, ContinueNode):
            raise _Continue()

    def walk_if_or_with(self, dot: Any, node: BranchNode) -> None:
        mark = self.mark()
        val = self.eval_pipeline(dot, node.pipe)
        truth, ok = is_true(val)
        if not ok:
            raise ExecError(node, f"if/with can't use value of type {type_name(val)}")
        if truth:
            self.walk(val if node.kind == "with" else dot, node.list)
        elif node.else_list is not None:
            self.walk(dot, node.else_list)
        self.pop(mark)

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        outer = self.mark()
        val = self.eval_pipeline(dot, node.pipe)
        if val is NULL:
            val = None
        mark = self.mark()

        def one(index: Any, elem: Any) -> None:
            self.bind_range_vars(node, index, elem)
            try:
                self.walk(elem, node.list)
            except _Continue:
                pass
            finally:
                self.pop(mark)

        try:
            if isinstance(val, list):
                if len(val):
                    for i in range(len(val)):
                        one(i, val[i])
                    self.pop(outer)
                    return
            elif isinstance(val, dict):
                if val:
                    for k in sorted(val, key=go_str_less_key):
                        one(k, val[k])
                    self.pop(outer)
                    return
            elif val is None:
                pass
            else:
                raise ExecError(node, f"range can't iterate over value of type {type_name(val)}")
        except _Break:
            self.pop(outer)
            return
        if node.else_list is not None:
            self.walk(dot, node.else_list)
        self.pop(outer)

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        tree = self.tmpl.trees.get(node.name)
        if tree is None:
            raise ExecError(node, f'template "{node.name}" not defined')
        self.enter(node)
        dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else dot
        saved = self.vars
        self.vars = [("$", dot)]
        try:
            self.walk(dot, tree)
        finally:
            self.vars = saved
            self.depth -= 1

    # Evaluation.

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
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(
            c in text for c in "pP"
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
        from confpy.gotemplate import builtins as b

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
            return self.eval_call(dot, _BUILTIN_FUNCS[name], True, sig, cmd, name, args, final)
        raise ExecError(node, f'"{name}" is not a defined function')

    def eval_call(
        self, dot: Any, fn: Callable[..., Any], builtin: bool,
        sig: tuple[tuple[str, ...], str | None], node: Node, name: str, args: list[Node],
        final: Any,
    ) -> Any:
        args = args[1:]
        fixed, variadic = sig
        num_in = len(args) + (0 if final is MISSING else 1)
        if variadic is not None:
            if num_in < len(fixed):
                raise ExecError(
                    node, f"wrong number of args for {name}: want at least {len(fixed)} "
                    f"got {len(args)}"
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
        except MissingKey as e:
            raise _MissingKey(node, e.key) from None
        except GoError as e:
            raise ExecError(node, f"error calling {name}: {e}") from None
        except ExecError:
            raise
        except (RecursionError, MemoryError):
            raise ExecError(node, f"error calling {name}: value too large or too deep") from None
        except Exception as e:
            raise ExecError(node, f"error calling {name}: {type(e).__name__}") from None

    def bind_range_vars(self, node: BranchNode, index: Any, elem: Any) -> None:
        """`range $i, $e := ...` (or `=`): set the variables for one element."""
        pipe = node.pipe
        if pipe.decl:
            if pipe.is_assign:
                if len(pipe.decl) > 1:
                    self.set_var(node, pipe.decl[0].ident[0], index)
                else:
                    self.set_var(node, pipe.decl[0].ident[0], elem)
            else:
                self.set_top_var(1, elem)
        if len(pipe.decl) > 1:
            if pipe.is_assign:
                self.set_var(node, pipe.decl[1].ident[0], elem)
            else:
                self.set_top_var(2, index)

    def eval_arg(self, dot: Any, typ: str | None, n: Node) -> Any:
        if isinstance(n, DotNode):
            return self.validate_type(n, dot, typ)
        if isinstance(n, NilNode):
            if typ is not None and _can_be_nil(typ):
                return _zero(typ)
            raise ExecError(n, f"cannot assign nil to {typ}")
        if isinstance(n, FieldNode):
            return self.validate_type(n, self.eval_field_chain(dot, dot, n, n.ident, [n],
                                                               MISSING), typ)
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

    # Printing.

    def print_value(self, node: Node, v: Any) -> None:
        if v is None or v is NULL:
            self.write("<no value>")
            return
        self.write(gofmt.sprint(v))


class _MissingKey(Exception):
    def __init__(self, node: Node, key: str) -> None:
        self.node = node
        self.key = key


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
    return False


def is_true(val: Any) -> tuple[bool, bool]:
    if val is None or val is NULL:
        return False, True
    if isinstance(val, bool):
        return val, True
    if isinstance(val, int | float | complex):
        return val != 0, True
    if isinstance(val, str | list | dict):
        return len(val) > 0, True
    return True, True


# text/template's builtins (funcs.go), over the engine's values.


def _indirect(v: Any) -> Any:
    return None if v is NULL else v


def _basic_kind(v: Any) -> str:
    k = kind(v)
    if k in ("bool", "int", "uint", "float", "complex", "string"):
        return k
    return "invalid"


def _eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = _indirect(arg1)
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        arg = _indirect(arg)
        k2 = _basic_kind(arg)
        truth = False
        if k1 != k2:
            if (k1 == "int" and k2 == "uint") or (k1 == "uint" and k2 == "int"):
                truth = arg1 == arg
            elif arg1 is not None and arg is not None:
                raise GoError("incompatible types for comparison")
        elif k1 == "invalid":
            if _is_nil(arg1) or _is_nil(arg):
                truth = _is_nil(arg1) == _is_nil(arg)
            else:
                if isinstance(arg1, list | dict) or isinstance(arg, list | dict):
                    raise GoError("non-comparable types")
                if type_name(arg1) != type_name(arg):
                    raise GoError("non-comparable types")
                truth = arg1 == arg
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def _is_nil(v: Any) -> bool:
    return v is None or v is NULL or isinstance(v, NilMap) or getattr(v, "nil", False) is True


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    a, b = _indirect(a), _indirect(b)
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if k1 == "invalid" or k2 == "invalid":
        raise GoError("invalid type for comparison")
    if k1 != k2:
        if k1 in ("int", "uint") and k2 in ("int", "uint"):
            return bool(a < b)
        raise GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise GoError("invalid type for comparison")
    if k1 == "string":
        return go_bytes(a) < go_bytes(b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _not(a: Any) -> bool:
    return not is_true(_indirect(a))[0]


def _len(item: Any) -> int:
    item = _indirect(item)
    if isinstance(item, str):
        return len(go_bytes(item))
    if isinstance(item, list | dict):
        return len(item)
    raise GoError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    index = _indirect(index)
    if isinstance(index, bool) or not isinstance(index, int):
        if index is None:
            raise GoError("cannot index slice/array with nil")
        raise GoError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise GoError(f"index out of range: {index}")
    return int(index)


def _index(item: Any, *indexes: Any) -> Any:
    item = _indirect(item)
    if item is None:
        raise GoError("index of untyped nil")
    for index in indexes:
        index = _indirect(index)
        if item is NULL or item is None:
            raise GoError("index of nil pointer")
        if isinstance(item, str | list):
            seq: Any = go_bytes(item) if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x >= len(seq):
                raise GoError(f"index out of range: {x}")
            item = Uint8(seq[x]) if isinstance(item, str) else seq[x]
        elif isinstance(item, dict):
            if index is None:
                index = ""
            if not isinstance(index, str):
                raise GoError(f"value has type {type_name(index)}; should be string")
            item = item.get(index, NULL)
        else:
            raise GoError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    item = _indirect(item)
    if item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        data = go_bytes(item)
        cap = len(data)
        length = cap
    elif isinstance(item, list):
        cap = item.cap if isinstance(item, Slice) else len(item)
        length = len(item)
    else:
        raise GoError(f"can't slice item of type {type_name(item)}")
    idx = [0, length, 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, cap)
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if isinstance(item, str):
        return data[idx[0] : idx[1]].decode("utf-8", "surrogateescape")
    gotype = item.gotype if isinstance(item, Slice) else "[]interface {}"
    elem = item.elem if isinstance(item, Slice) else "interface {}"
    full = list(item) + [ZERO_OF.get(elem, NULL)] * (cap - length)
    if len(indexes) < 3:
        return Slice(full[idx[0] : idx[1]], gotype, cap - idx[0])
    if idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    return Slice(full[idx[0] : idx[1]], gotype, idx[2] - idx[0])


def _eval_args(args: tuple[Any, ...]) -> str:
    """text/template's evalArgs: fmt.Sprint, except that a nil prints `<no value>`."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(*("<no value>" if a is None or a is NULL else a for a in args))


def _html(*args: Any) -> str:
    s = _eval_args(args)
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;",
             "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def _js(*args: Any) -> str:
    s = _eval_args(args)
    out: list[str] = []
    for c in s:
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == '"':
            out.append('\\"')
        elif c == "<":
            out.append("\\u003C")
        elif c == ">":
            out.append("\\u003E")
        elif c == "&":
            out.append("\\u0026")
        elif c == "=":
            out.append("\\u003D")
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o < 0x80:
            out.append(c)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(c)  # an invalid byte decodes as U+FFFD, printable: written as is
        elif c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{o:04X}")
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return url_query(_eval_args(args))


def _call(fn: Any, *args: Any) -> Any:
    raise GoError(f"non-function of type {type_name(fn)}")


_BUILTIN_FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": gofmt.sprint,
    "printf": gofmt.sprintf,
    "println": gofmt.sprintln,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
}

_ = math
