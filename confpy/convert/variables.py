"""Which declaration each `$variable` of a parsed Go template refers to: a pass over the tree.

Jinja's `{% set %}` inside an `{% if %}` changes the outer name, and a loop's changes are
lost at its end, so `convert` gives each Go declaration a Jinja name of its own and
puts those assigned inside a deeper loop in a namespace. This pass finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from confpy.gotemplate.gonodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    ListNode,
    Node,
    PipeNode,
    VariableNode,
)


@dataclass(eq=False)
class Decl:
    """One `$name :=`; identity tells shadowing redeclarations apart."""

    name: str
    loop_depth: int
    assigned: bool = False
    """Assigned with `=` somewhere (a dot it also names must then have a name of its own)."""
    assigned_in_loop: bool = False
    """Assigned with `=` inside a range nested deeper than the declaration."""


class Unresolved(Exception):
    """A variable Go resolves at run time only (`{{if}}$x :=` read in `{{else}}`)."""

    def __init__(self, node: Node) -> None:
        self.node = node


class Variables:
    """The pass: `decl_of[id(variable node)]` is its Decl (None for `$`)."""

    def __init__(self, root: ListNode) -> None:
        self.decl_of: dict[int, Decl | None] = {}
        self.decls: list[Decl] = []
        self.scopes: list[dict[str, Decl]] = [{}]
        self.loop_depth = 0
        self.visit(root)

    def visit(self, node: Node) -> None:
        if isinstance(node, ListNode):
            self.scopes.append({})
            for n in node.nodes:
                self.visit(n)
            self.scopes.pop()
        elif isinstance(node, ActionNode):
            self.pipe(node.pipe)
        elif isinstance(node, BranchNode):
            self.scopes.append({})
            self.loop_depth += node.kind == "range"
            self.pipe(node.pipe)
            self.visit(node.list)
            self.loop_depth -= node.kind == "range"
            if node.else_list is not None:
                self.visit(node.else_list)
            self.scopes.pop()

    def pipe(self, pipe: PipeNode, nested: bool = False) -> None:
        for cmd in pipe.cmds:
            for arg in cmd.args:
                self.operand(arg)
        if nested and pipe.decl:
            raise Unresolved(pipe)  # a declaration inside parentheses lives on in Go
        for v in pipe.decl:
            # Declared after the pipeline is read: `$x := $x` reads the outer `$x`.
            if pipe.is_assign:
                decl = self.lookup(v)
                decl.assigned = True
                decl.assigned_in_loop |= decl.loop_depth < self.loop_depth
            else:
                decl = Decl(v.ident[0][1:], self.loop_depth)
                self.decls.append(decl)
                self.scopes[-1][v.ident[0]] = decl
            self.decl_of[id(v)] = decl

    def operand(self, node: Node) -> None:
        if isinstance(node, VariableNode):
            self.decl_of[id(node)] = None if node.ident[0] == "$" else self.lookup(node)
        elif isinstance(node, ChainNode):
            self.operand(node.node)
        elif isinstance(node, PipeNode):
            self.pipe(node, nested=True)

    def lookup(self, node: VariableNode) -> Decl:
        for scope in reversed(self.scopes):
            if node.ident[0] in scope:
                return scope[node.ident[0]]
        raise Unresolved(node)
