"""The fork's `include "name" [data]`: render another template of the templates directory.

As abtreece/confd's include.go: the name is joined to the templates directory and must
stay inside it (lexically, as Go's filepath.Clean/Rel see it); an include of a template
already being included is a cycle; nesting stops at limits.MAX_INCLUDE_DEPTH. The included
template is parsed with the same functions and executed with `data` as dot (nil without).
One Includer serves one render: it caches what it parsed and counts the steps of every
template it runs against gostate.MAX_STEPS.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from typing import Any

from confpy import limits
from confpy.errors import ConfpyError
from confpy.golib import strconv as gostrconv
from confpy.golib.memkv import KeyNotFound
from confpy.gotemplate.gonodes import Template
from confpy.gotemplate.goparse import parse
from confpy.gotemplate.gostate import ExecError, MissingKeyAt
from confpy.gotemplate.values import GoError, from_bytes


class Includer:
    """The `include` function of one render."""

    def __init__(
        self,
        base_dir: str,
        names: frozenset[str],
        funcs: dict[str, Callable[..., Any]],
        sigs: dict[str, tuple[tuple[str, ...], str | None]],
    ) -> None:
        self.base_dir = posixpath.normpath(base_dir)
        self.names = names
        self.funcs = funcs
        self.sigs = sigs
        self.stack: list[str] = []
        self.steps = 0
        self.parsed: dict[str, tuple[Template, str]] = {}

    def __call__(self, name: str, *data: Any) -> str:
        path = posixpath.normpath(self.base_dir + "/" + name)  # filepath.Join, then Clean
        rel = posixpath.relpath(path, self.base_dir)
        if rel == "." or rel == ".." or rel.startswith("../"):
            raise GoError(f"include path {_quoted(name)} is outside template directory")
        if path in self.stack:
            raise GoError(f"include cycle detected: {name} is already being processed")
        if len(self.stack) >= limits.MAX_INCLUDE_DEPTH:
            raise GoError(f"maximum include depth ({limits.MAX_INCLUDE_DEPTH}) exceeded")
        tmpl, source = self._parsed(name, path)
        self.stack.append(path)
        try:
            return self._execute(name, path, tmpl, source, data[0] if data else None)
        finally:
            self.stack.pop()

    def _parsed(self, name: str, path: str) -> tuple[Template, str]:
        if path not in self.parsed:
            try:
                source = from_bytes(limits.read_file_bounded(path, limits.MAX_OUTPUT_CHARS))
            except OSError as e:
                raise GoError(f"include {name}: {e.strerror or 'cannot be read'}") from None
            except ValueError:  # a NUL in the name: no file can have it
                raise GoError(f"include {_quoted(name)}: no such file or directory") from None
            if len(source) > limits.MAX_OUTPUT_CHARS:
                raise GoError(f"include {name}: template too large")
            try:
                tmpl = parse(source, os.path.basename(path), self.names, path)
            except ConfpyError as e:
                raise GoError(f"parse include {name}: {_reason(e)}") from None
            except RecursionError:
                raise GoError(f"parse include {name}: template nested too deeply") from None
            self.parsed[path] = (tmpl, source)
        return self.parsed[path]

    def _execute(self, name: str, path: str, tmpl: Template, source: str, dot: Any) -> str:
        from confpy.gotemplate.goexec import Executor  # the executor calls this function

        root = tmpl.trees.get(tmpl.name)
        if root is None:
            return ""  # Go executes an empty template to nothing
        ex = Executor(tmpl, source, path, self.funcs, self.sigs)
        ex.steps = self.steps
        ex.vars = [("$", dot)]
        try:
            ex.walk(dot, root)
        except ExecError as e:
            line, col = ex.where(e.node)
            raise GoError(f"execute include {name}: line {line}: {col}{e.msg}") from None
        except MissingKeyAt as e:
            raise KeyNotFound(e.key) from None
        finally:
            self.steps = ex.steps
        return "".join(ex.out)


def _reason(e: ConfpyError) -> str:
    return str(getattr(e, "reason", None) or e)


def _quoted(name: str) -> str:
    return gostrconv.quote(name)
