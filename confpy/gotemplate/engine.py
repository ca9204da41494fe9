"""The direct engine: a confd Go template compiled once, rendered from a key view to bytes.

`GoTemplate.compile(source, filename)` parses as confd's `template.New(base(src))
.Funcs(...).ParseFiles(src)` does; `render(view, prefix)` executes it over memkv's view of
the resource's keys (values as bytes; decoded with surrogateescape so raw bytes survive)
and returns the bytes to write. Every failure is a TemplateSyntaxError or RenderError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from confpy.errors import ConfpyError, RenderError, TemplateSyntaxError
from confpy.gotemplate import confdfuncs, forkfuncs, gomemkv
from confpy.gotemplate.goexec import BUILTINS, Executor
from confpy.gotemplate.goinclude import Includer
from confpy.gotemplate.gonodes import Template
from confpy.gotemplate.goparse import parse
from confpy.gotemplate.values import from_bytes, go_bytes

FUNCTION_NAMES = confdfuncs.NAMES | frozenset(forkfuncs.SIGNATURES) | BUILTINS | {"each"}
"""confd's functions, the maintained fork's (abtreece/confd: `include`, `default`, ...),
text/template's, and `each`, a file's match in an `each` resource: `{{ (each).Name }}`."""
_SIGNATURES = {**confdfuncs.SIGNATURES, **forkfuncs.SIGNATURES}
_EACH_SIGNATURE: confdfuncs.Sig = ((), None)


class GoTemplate:
    """A parsed confd template, ready to render any number of times (a plain class: the
    engine's import generates no dataclass code, issue 22)."""

    def __init__(self, tmpl: Template, source: str, filename: str, include_dir: str) -> None:
        self.tmpl = tmpl
        self.source = source
        self.filename = filename
        self.include_dir = include_dir
        """Where `include "name"` finds templates: the templates directory."""

    @classmethod
    def compile(cls, source: str, filename: str, include_dir: str | None = None) -> GoTemplate:
        name = os.path.basename(filename)
        try:
            tmpl = parse(source, name, FUNCTION_NAMES, filename)
        except ConfpyError:
            raise
        except (RecursionError, MemoryError):
            raise TemplateSyntaxError(
                "template too large or too deeply nested", file=filename
            ) from None
        return cls(tmpl, source, filename, include_dir or os.path.dirname(filename) or ".")

    def render(
        self,
        view: Mapping[str, bytes | str],
        prefix: str = "",
        each: Mapping[str, str] | None = None,
    ) -> bytes:
        """Execute over `view` (keys relative to `prefix`); the bytes confd would write.

        `each` is what `(each)` returns in a file of an `each` resource."""
        values = {
            k: (from_bytes(v) if isinstance(v, bytes | bytearray) else v) for k, v in view.items()
        }
        store = gomemkv.MemKV(gomemkv.store_view(values))
        funcs = {**confdfuncs.STATIC, **forkfuncs.STATIC, **confdfuncs.key_functions(store)}
        sigs = _SIGNATURES
        if each is not None:
            match = dict(each)
            funcs["each"] = lambda: match
            sigs = {**sigs, "each": _EACH_SIGNATURE}
        funcs["include"] = Includer(self.include_dir, FUNCTION_NAMES, funcs, sigs)
        ex = Executor(self.tmpl, self.source, self.filename, funcs, sigs, prefix.rstrip("/"))
        # A MissingKeyError names the key relative to `prefix` when none is given.
        try:
            text = ex.run()
        except ConfpyError:
            raise
        except (RecursionError, MemoryError):
            raise RenderError(
                "template execution too deep or too large", file=self.filename
            ) from None
        return go_bytes(text)
