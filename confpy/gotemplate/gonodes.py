"""The nodes of a parsed Go template (text/template/parse/node.go) and the parsed file."""

from __future__ import annotations

from dataclasses import dataclass, field

from confpy.gotemplate.golex import SPACE


@dataclass
class Node:
    pos: int
    line: int


@dataclass
class TextNode(Node):
    text: str


@dataclass
class CommentNode(Node):
    text: str  # `/* ... */`


@dataclass
class DotNode(Node):
    pass


@dataclass
class NilNode(Node):
    pass


@dataclass
class BoolNode(Node):
    value: bool


@dataclass
class StringNode(Node):
    quoted: str
    text: str


@dataclass
class NumberNode(Node):
    text: str
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int64: int = 0
    uint64: int = 0
    float64: float = 0.0
    complex128: complex = 0j


@dataclass
class FieldNode(Node):
    ident: list[str]


@dataclass
class VariableNode(Node):
    ident: list[str]


@dataclass
class IdentifierNode(Node):
    name: str


@dataclass
class ChainNode(Node):
    node: Node
    field: list[str]


@dataclass
class CommandNode(Node):
    args: list[Node]


@dataclass
class PipeNode(Node):
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class ActionNode(Node):
    pipe: PipeNode


@dataclass
class BranchNode(Node):
    kind: str  # if, range, with
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None


@dataclass
class TemplateNode(Node):
    name: str
    pipe: PipeNode | None


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


@dataclass
class EndNode(Node):
    pass


@dataclass
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


@dataclass
class Template:
    """The parsed file: its main tree and every `define`d or `block` tree, by name."""

    name: str
    trees: dict[str, ListNode]


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
