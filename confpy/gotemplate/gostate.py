"""The state of one Go template execution: limits, variables, output and errors.

What exec.go's `state` holds (the variable stack, the depth) and the errors that unwind
an execution; evaluation is confpy.gotemplate.goeval's, walking confpy.gotemplate.goexec's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confpy.gotemplate.gonodes import (
    Node,
    Template,
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


class MissingKeyAt(Exception):
    """A key that `getv` and friends did not find, with the node that asked for it."""

    def __init__(self, node: Node, key: str) -> None:
        self.node = node
        self.key = key


class State:
    """One execution of a template: output, variable stack, depth."""

    def __init__(
        self,
        tmpl: Template,
        source: str,
        filename: str,
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
