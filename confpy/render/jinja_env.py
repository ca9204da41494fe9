"""The Jinja2 environment confpy renders with: its loader, functions and bounds.

Imported only when a resource's template is Jinja's (`confpy.render.templates` loads it then), so a
tree of Go templates never loads Jinja. See `confpy.render.templates` for the resource boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from confpy import limits
from confpy.errors import RenderError, TemplateSyntaxError
from confpy.functions import static as funcs
from confpy.render import cache as template_cache


class Loader(jinja2.BaseLoader):
    """Loads Jinja templates from the templates directory, and nothing outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources: dict[str, str] = {}
        """Every Jinja template text loaded, as written: what the operator wrote, which
        error messages may quote back (see confpy.redact)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        name = PurePosixPath(template)
        if name.is_absolute() or ".." in name.parts:
            # `{% include "../../etc/passwd" %}`: templates come from templates/ only.
            raise jinja2.TemplateNotFound(template)
        path = (self.root / template).resolve()
        try:
            source = limits.read_template(path)
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        except (OSError, UnicodeDecodeError) as e:
            raise TemplateSyntaxError(f"cannot read template: {e}", file=str(path)) from None
        self.sources[template] = source
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.exists() and path.stat().st_mtime == mtime


def make_environment(templates_dir: Path) -> jinja2.Environment:
    """The one Jinja2 environment confpy renders with (Go templates have their own engine)."""
    env = BoundedEnvironment(
        loader=Loader(templates_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,
        bytecode_cache=template_cache.current(),
    )
    env.globals.update(funcs.STATIC_FUNCTIONS)
    return env


class BoundedEnvironment(jinja2.Environment):
    """Jinja2 with confpy's bounds on what a value can make a template cost.

    `sandboxed = True` asks Jinja's compiler to route every call, and the `*` and `**`
    operators, through this class and never to fold those operators at compile time (so
    `{{ 10 ** 10 ** 10 }}` costs nothing to `check`). It is not Jinja's sandbox: attribute
    access is not restricted, as templates are the operator's own code; the sandbox's
    checks would make attribute-heavy templates twice as slow. The bounds: template calls
    nested deeper than `limits.MAX_CALL_DEPTH` (a macro calling itself), repetition,
    `range` and integers past `limits.MAX_SEQUENCE` and `limits.MAX_INT_BITS`.
    """

    sandboxed = True
    intercepted_binops = frozenset({"*", "**"})
    intercepted_unops: frozenset[str] = frozenset()
    _depth = threading.local()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "**":
            return limits.bounded_pow(left, right)
        return limits.bounded_mul(left, right)

    def call(
        __self,  # Jinja's own signature: a template may pass `context=` as a keyword
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        depth = getattr(__self._depth, "n", 0)
        if depth >= limits.MAX_CALL_DEPTH:
            raise RenderError(
                f"template calls nested more than {limits.MAX_CALL_DEPTH} deep "
                "(a macro that calls itself without end?)"
            )
        __self._depth.n = depth + 1
        try:
            return __context.call(__obj, *args, **kwargs)
        finally:
            __self._depth.n = depth


def _bounded_range(*args: int) -> range:
    r = range(*args)
    limits.check_sequence("range", len(r))
    return r
