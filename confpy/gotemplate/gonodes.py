"""The nodes of a parsed Go template (text/template/parse/node.go) and the parsed file."""

from __future__ import annotations

from typing import ClassVar

from confpy.gotemplate.golex import SPACE


class _Record:
    """Equality and repr over `_fields`, as the dataclasses these were: plain classes with
    their own `__init__`, so that importing the Go engine generates and compiles no code
    (23 dataclasses cost more to create than the rest of the engine's import; issue 22)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({fields})"


class Node(_Record):
    _fields: ClassVar[tuple[str, ...]] = ("pos", "line")

    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line


class TextNode(Node):
    _fields = ("pos", "line", "text")

    def __init__(self, pos: int, line: int, text: str) -> None:
        self.pos = pos
        self.line = line
        self.text = text


class CommentNode(Node):
    _fields = ("pos", "line", "text")

    def __init__(self, pos: int, line: int, text: str) -> None:
        self.pos = pos
        self.line = line
        self.text = text  # `/* ... */`


class DotNode(Node):
    pass


class NilNode(Node):
    pass


class BoolNode(Node):
    _fields = ("pos", "line", "value")

    def __init__(self, pos: int, line: int, value: bool) -> None:
        self.pos = pos
        self.line = line
        self.value = value


class StringNode(Node):
    _fields = ("pos", "line", "quoted", "text")

    def __init__(self, pos: int, line: int, quoted: str, text: str) -> None:
        self.pos = pos
        self.line = line
        self.quoted = quoted
        self.text = text


class NumberNode(Node):
    _fields = (
        "pos",
        "line",
        "text",
        "is_int",
        "is_uint",
        "is_float",
        "is_complex",
        "int64",
        "uint64",
        "float64",
        "complex128",
    )

    def __init__(
        self,
        pos: int,
        line: int,
        text: str,
        is_int: bool = False,
        is_uint: bool = False,
        is_float: bool = False,
        is_complex: bool = False,
        int64: int = 0,
        uint64: int = 0,
        float64: float = 0.0,
        complex128: complex = 0j,
    ) -> None:
        self.pos = pos
        self.line = line
        self.text = text
        self.is_int = is_int
        self.is_uint = is_uint
        self.is_float = is_float
        self.is_complex = is_complex
        self.int64 = int64
        self.uint64 = uint64
        self.float64 = float64
        self.complex128 = complex128


class FieldNode(Node):
    _fields = ("pos", "line", "ident")

    def __init__(self, pos: int, line: int, ident: list[str]) -> None:
        self.pos = pos
        self.line = line
        self.ident = ident


class VariableNode(Node):
    _fields = ("pos", "line", "ident")

    def __init__(self, pos: int, line: int, ident: list[str]) -> None:
        self.pos = pos
        self.line = line
        self.ident = ident


class IdentifierNode(Node):
    _fields = ("pos", "line", "name")

    def __init__(self, pos: int, line: int, name: str) -> None:
        self.pos = pos
        self.line = line
        self.name = name


class ChainNode(Node):
    _fields = ("pos", "line", "node", "field")

    def __init__(self, pos: int, line: int, node: Node, field: list[str]) -> None:
        self.pos = pos
        self.line = line
        self.node = node
        self.field = field


class CommandNode(Node):
    _fields = ("pos", "line", "args")

    def __init__(self, pos: int, line: int, args: list[Node]) -> None:
        self.pos = pos
        self.line = line
        self.args = args


class PipeNode(Node):
    _fields = ("pos", "line", "is_assign", "decl", "cmds")

    def __init__(
        self,
        pos: int,
        line: int,
        is_assign: bool = False,
        decl: list[VariableNode] | None = None,
        cmds: list[CommandNode] | None = None,
    ) -> None:
        self.pos = pos
        self.line = line
        self.is_assign = is_assign
        self.decl = [] if decl is None else decl
        self.cmds = [] if cmds is None else cmds


class ListNode(Node):
    _fields = ("pos", "line", "nodes")

    def __init__(self, pos: int, line: int, nodes: list[Node] | None = None) -> None:
        self.pos = pos
        self.line = line
        self.nodes = [] if nodes is None else nodes


class ActionNode(Node):
    _fields = ("pos", "line", "pipe")

    def __init__(self, pos: int, line: int, pipe: PipeNode) -> None:
        self.pos = pos
        self.line = line
        self.pipe = pipe


class BranchNode(Node):
    _fields = ("pos", "line", "kind", "pipe", "list", "else_list")

    def __init__(
        self,
        pos: int,
        line: int,
        kind: str,
        pipe: PipeNode,
        list: ListNode,
        else_list: ListNode | None,
    ) -> None:
        self.pos = pos
        self.line = line
        self.kind = kind  # if, range, with
        self.pipe = pipe
        self.list = list
        self.else_list = else_list


class TemplateNode(Node):
    _fields = ("pos", "line", "name", "pipe")

    def __init__(self, pos: int, line: int, name: str, pipe: PipeNode | None) -> None:
        self.pos = pos
        self.line = line
        self.name = name
        self.pipe = pipe


class BreakNode(Node):
    pass


class ContinueNode(Node):
    pass


class EndNode(Node):
    pass


class ElseNode(Node):
    pass


def is_empty_tree(n: Node | None) -> bool:
    if n is None:
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, TextNode):
        return n.text.strip(SPACE) == ""
    return isinstance(n, CommentNode)


class Template(_Record):
    """The parsed file: its main tree and every `define`d or `block` tree, by name."""

    _fields = ("name", "trees")

    def __init__(self, name: str, trees: dict[str, ListNode]) -> None:
        self.name = name
        self.trees = trees


def node_text(n: Node) -> str:
    if isinstance(n, StringNode):
        return n.quoted
    if isinstance(n, NumberNode):
        return n.text
    if isinstance(n, BoolNode):
        return "true" if n.value else "false"
    if isinstance(n, NilNode):
        return "nil"
    return "."
