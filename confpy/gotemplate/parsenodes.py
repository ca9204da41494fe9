"""The syntax tree `parser` builds from Go template source and `translate` walks.

It mirrors text/template's own: lists of text, actions, if/range/with blocks; actions
hold pipelines of commands whose arguments are fields, variables, literals, function
names and parenthesised pipelines. Plain data only: no parsing, no translating.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Expression nodes.


@dataclass
class Dot:
    pass


@dataclass
class Field:
    """`.a.b` on the dot."""

    names: tuple[str, ...]


@dataclass
class Var:
    """`$x.a.b`: `decl` is the declaration it refers to; `$` itself has decl None."""

    name: str
    decl: Decl | None
    names: tuple[str, ...] = ()


@dataclass
class Ident:
    """A function name."""

    name: str
    line: int
    col: int


@dataclass
class Chain:
    """`(pipeline).a.b` or `func.a.b`."""

    node: Node
    names: tuple[str, ...]


@dataclass
class Literal:
    value: str | int | float | bool | None
    kind: str
    """string, int, float, bool, nil"""


@dataclass
class Command:
    args: list[Node]
    line: int
    col: int


@dataclass
class Pipeline:
    cmds: list[Command]
    decls: list[Decl] = field(default_factory=list)
    assign: bool = False
    """True for `$x = ...` (the decls are the existing ones assigned to)."""


@dataclass
class Paren:
    pipe: Pipeline


Node = Dot | Field | Var | Ident | Chain | Literal | Paren


@dataclass(eq=False)
class Decl:
    """One `$name :=` declaration; identity distinguishes shadowing redeclarations."""

    name: str
    line: int
    assigned_in_loop: bool = False
    """Reassigned with `=` inside a range nested deeper than the declaration."""
    loop_depth: int = 0


# Statement nodes.


@dataclass
class TextNode:
    text: str
    line: int


@dataclass
class CommentNode:
    text: str
    line: int


@dataclass
class ActionNode:
    pipe: Pipeline
    line: int


@dataclass
class IfNode:
    """`if`, `with` or `range` (kind), with an optional else branch."""

    kind: str
    pipe: Pipeline
    body: list[Stmt]
    else_body: list[Stmt] | None
    line: int
    else_chain: bool = False
    """The else branch came from `{{else if ...}}`/`{{else with ...}}` sharing this end."""


Stmt = TextNode | CommentNode | ActionNode | IfNode


@dataclass
class Tree:
    body: list[Stmt]
    decls: list[Decl]
