"""Execute a parsed Go template directly, with text/template's semantics (exec.go).

Truth, variable scoping (a stack popped at the end of each block), range over slices and
over maps in key order, `break`/`continue`, `template`/`block`, pipelines whose value
becomes the last argument, typed function arguments, field and map lookups, and fmt's
printing. A failure is a RenderError naming the file, line and column, never a value.
Depth is bounded (MAX_DEPTH) so nothing relies on Python's recursion limit.
This module walks the nodes; evaluating pipelines is confpy.gotemplate.goeval's, the
variable stack and limits confpy.gotemplate.gostate's.
"""

from __future__ import annotations

from typing import Any

from confpy.errors import MissingKeyError, RenderError
from confpy.gotemplate import gofmt
from confpy.gotemplate.goeval import BUILTINS, Evaluator
from confpy.gotemplate.gofuncs import is_true
from confpy.gotemplate.gonodes import (
    ActionNode as _ActionNode,
)
from confpy.gotemplate.gonodes import (
    BranchNode,
    BreakNode,
    ContinueNode,
    ListNode,
    Node,
    TemplateNode,
    TextNode,
)
from confpy.gotemplate.gostate import MAX_STEPS, ExecError, MissingKeyAt
from confpy.gotemplate.values import (
    NULL,
    go_str_less_key,
    type_name,
)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Executor(Evaluator):
    """One execution of a template: walks its nodes, writing what they print."""

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
        except MissingKeyAt as e:
            line, col = self.where(e.node)
            raise MissingKeyError(
                (self.prefix + e.key) if self.prefix else e.key, file=self.filename, line=line
            ) from None
        return "".join(self.out)

    # Variables.

    # Walking.

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
            elif val is not None:  # nil ranges over nothing (Go: an invalid value)
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

    # Printing.

    def print_value(self, node: Node, v: Any) -> None:
        if v is None or v is NULL:
            self.write("<no value>")
            return
        self.write(gofmt.sprint(v))


__all__ = ["BUILTINS", "Executor"]
