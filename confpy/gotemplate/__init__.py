"""confd's Go text/template templates: a direct engine, and a translator to Jinja2.

`engine.GoTemplate` parses and executes a template with Go's semantics (what `render`
uses). `translate(source, filename)` returns Jinja2 source that renders the same bytes
(what `confpy convert` writes); `GO_GLOBALS` holds the Go builtins that source calls.
Both are loaded on first use: a render of Go templates needs neither the translator
nor its builtins, and importing them costs a one-shot render tens of milliseconds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GO_GLOBALS", "translate"]


def __getattr__(name: str) -> Any:
    if name == "translate":
        from confpy.gotemplate.translate import translate

        # Importing the submodule bound its name here; the function takes it back.
        globals()["translate"] = translate
        return translate
    if name == "GO_GLOBALS":
        from confpy.gotemplate.builtins import GO_GLOBALS

        return GO_GLOBALS
    raise AttributeError(f"module 'confpy.gotemplate' has no attribute {name!r}")
