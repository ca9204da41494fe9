"""Compile templates once and render them purely: `render(resource, snapshot) -> bytes`.

Jinja2 runs with undefined names as errors and trailing newlines kept. A resource whose
syntax is `go` (confd's `.tmpl` files) is translated to Jinja2 source when it is loaded
and rendered by the same engine. A value from etcd is passed as data and never compiled.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from confpy import funcs
from confpy.errors import (
    ConfpyError,
    MissingKeyError,
    RenderError,
    TemplateSyntaxError,
    ValueEncodingError,
)
from confpy.gotemplate.engine import GoTemplate
from confpy.keys import relative_view
from confpy.resource import TemplateResource
from confpy.snapshot import Snapshot


class _Loader(jinja2.BaseLoader):
    """Loads from the templates directory; Go-syntax files are translated on the way in."""

    def __init__(self, root: Path, go_names: set[str]) -> None:
        self.root = root
        self.go_names = go_names

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = (self.root / template).resolve()
        try:
            source = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        except (OSError, UnicodeDecodeError) as e:
            raise TemplateSyntaxError(f"cannot read template: {e}", file=str(path)) from None
        if template in self.go_names:
            from confpy.gotemplate import translate

            source = translate(source, filename=str(path))
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.exists() and path.stat().st_mtime == mtime


def make_environment(templates_dir: Path, go_names: Iterable[str] = ()) -> jinja2.Environment:
    """The one Jinja2 environment confpy renders with."""
    go_names = set(go_names)
    env = jinja2.Environment(
        loader=_Loader(templates_dir, go_names),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,
    )
    env.globals.update(funcs.STATIC_FUNCTIONS)
    if go_names:
        # Go's builtins (printf, len, index, eq, ...) under names the translation emits.
        from confpy.gotemplate import GO_GLOBALS

        env.globals.update(GO_GLOBALS)
    return env


@dataclass
class TemplateSet:
    """Compiled templates for a set of resources, compiled once at load (or reload) time."""

    templates_dir: Path
    env: jinja2.Environment
    compiled: dict[str, jinja2.Template | GoTemplate]

    @classmethod
    def load(
        cls, templates_dir: Path, resources: Iterable[TemplateResource]
    ) -> tuple[TemplateSet, list[ConfpyError]]:
        """Compile every resource's template; return the set and every problem found."""
        resources = list(resources)
        go_names = {_name(templates_dir, r.src) for r in resources if r.syntax == "go"}
        env = make_environment(templates_dir, go_names)
        compiled: dict[str, jinja2.Template | GoTemplate] = {}
        errors: list[ConfpyError] = []
        for r in resources:
            name = _name(templates_dir, r.src)
            if name in compiled:
                continue
            try:
                if r.syntax == "go":
                    compiled[name] = _load_go(templates_dir / name)
                    continue
                compiled[name] = env.get_template(name)
            except jinja2.TemplateSyntaxError as e:
                errors.append(
                    TemplateSyntaxError(
                        e.message or "syntax error", file=e.filename or str(r.src), line=e.lineno
                    )
                )
            except ConfpyError as e:
                errors.append(e)
            except jinja2.TemplateError as e:
                errors.append(TemplateSyntaxError(str(e), file=str(r.src)))
        return cls(templates_dir, env, compiled), errors

    def render(self, resource: TemplateResource, snapshot: Snapshot) -> bytes:
        """Render `resource` from `snapshot`. Pure: reads no file but the templates."""
        template = self.compiled.get(_name(self.templates_dir, resource.src))
        if template is None:
            raise RenderError("template was not compiled", file=str(resource.src))
        if isinstance(template, GoTemplate):
            return render_go(template, resource, snapshot)
        return render_template(template, resource, snapshot)


def _load_go(path: Path) -> GoTemplate:
    """A confd Go template, parsed for the direct engine (Go's semantics, byte for byte)."""
    try:
        source = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateSyntaxError(f"cannot read template: {e}", file=str(path)) from None
    return GoTemplate.compile(source, str(path))


def render_go(template: GoTemplate, resource: TemplateResource, snapshot: Snapshot) -> bytes:
    """Render a Go template: values stay bytes (raw bytes are written back unchanged)."""
    view = relative_view(snapshot.values, resource.prefix, resource.full_keys)
    return template.render(view, resource.prefix)


def _name(templates_dir: Path, src: Path) -> str:
    try:
        return src.relative_to(templates_dir).as_posix()
    except ValueError:
        return src.as_posix()


def decode_view(resource: TemplateResource, snapshot: Snapshot) -> dict[str, str]:
    """The resource's keys relative to its prefix, values decoded as UTF-8."""
    raw = relative_view(snapshot.values, resource.prefix, resource.full_keys)
    out: dict[str, str] = {}
    for rel, value in raw.items():
        try:
            out[rel] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueEncodingError(_absolute(resource.prefix, rel)) from None
    return out


def render_template(
    template: jinja2.Template, resource: TemplateResource, snapshot: Snapshot
) -> bytes:
    view = decode_view(resource, snapshot)
    context: dict[str, Any] = funcs.KeyFunctions(view).functions()
    filename = template.filename or str(resource.src)
    try:
        text = template.render(context)
    except MissingKeyError as e:
        raise MissingKeyError(
            _absolute(resource.prefix, e.key), file=filename, line=_template_line(filename)
        ) from None
    except RenderError as e:
        raise RenderError(e.reason, file=filename, line=_template_line(filename)) from None
    except jinja2.UndefinedError as e:
        raise RenderError(
            e.message or "undefined name", file=filename, line=_template_line(filename)
        ) from None
    except jinja2.TemplateError as e:
        raise RenderError(str(e), file=filename, line=_template_line(filename)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as e:
        # A template applied a function to the wrong kind of value: the template's fault.
        raise RenderError(
            f"{type(e).__name__}: {e}", file=filename, line=_template_line(filename)
        ) from None
    return text.encode("utf-8")


def _absolute(prefix: str, rel: str) -> str:
    return (prefix + rel) if prefix else rel


def _template_line(filename: str) -> int | None:
    """The template line of the exception being handled (Jinja rewrites its frames)."""
    tb: TracebackType | None = sys.exc_info()[2]
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line
