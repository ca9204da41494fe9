"""Compile templates once and render them purely: `render(resource, snapshot) -> bytes`.

Jinja2 runs with undefined names as errors and trailing newlines kept. A resource whose
syntax is `go` (confd's `.tmpl` files) is parsed and executed by `confpy.gotemplate`'s
engine with Go's semantics. A value from etcd is passed as data and never compiled.

The resource boundary (`render_template`, `render_go`, `_compile_contained`,
`_compile_go_contained`): whatever compiling or
rendering one resource raises, from a RecursionError to an encoding error, becomes one
`RenderError` (or `TemplateSyntaxError`) naming the template and line, its text passed
through `confpy.redact`; nothing escapes to stop the other resources or the daemon. The
environment (`confpy.render.jinja_env.BoundedEnvironment`) bounds what a value can make a
template do (`confpy.limits`): nested template calls, `*`, `**`, `range`, output size.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeGuard, cast

from confpy import limits
from confpy.config.resource import EachMatch, TemplateResource
from confpy.errors import (
    ConfpyError,
    MissingKeyError,
    RenderError,
    TemplateSyntaxError,
)
from confpy.functions.kv import KeyFunctions
from confpy.redact import describe_key, one_line, redact
from confpy.store.snapshot import Snapshot

if TYPE_CHECKING:
    import jinja2

    from confpy.gotemplate.engine import GoTemplate

# Each engine is imported when a template of its syntax is compiled: a tree of Go
# templates never loads Jinja, one of Jinja templates never loads the Go engine.


def __getattr__(name: str) -> object:
    """`make_environment` and `BoundedEnvironment`, which live in confpy.render.jinja_env."""
    if name in ("make_environment", "BoundedEnvironment"):
        from confpy.render import jinja_env

        return getattr(jinja_env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_go(template: object) -> TypeGuard[GoTemplate]:
    engine = sys.modules.get("confpy.gotemplate.engine")  # loaded once a Go template compiled
    return engine is not None and isinstance(template, engine.GoTemplate)


@dataclass
class TemplateSet:
    """Compiled templates for a set of resources, compiled once at load (or reload) time."""

    templates_dir: Path
    env: jinja2.Environment | None
    """None when no resource is Jinja's."""
    compiled: dict[str, jinja2.Template | GoTemplate]
    public: tuple[str, ...] = field(default=(), repr=False)
    """Template texts as written (Jinja and Go), for `confpy.redact`."""

    @classmethod
    def load(
        cls, templates_dir: Path, resources: Iterable[TemplateResource]
    ) -> tuple[TemplateSet, list[ConfpyError]]:
        """Compile every resource's template; return the set and every problem found."""
        resources = list(resources)
        env = None
        if any(r.syntax != "go" for r in resources):
            from confpy.render.jinja_env import make_environment

            env = make_environment(templates_dir)
        compiled: dict[str, jinja2.Template | GoTemplate] = {}
        errors: list[ConfpyError] = []
        for r in resources:
            name = _name(templates_dir, r.src)
            if name in compiled:
                continue
            template: jinja2.Template | GoTemplate | None
            if r.syntax == "go":
                template, error = _compile_go_contained(templates_dir / name, templates_dir)
            else:
                assert env is not None
                template, error = _compile_contained(env, name, r.src)
            if template is not None:
                compiled[name] = template
            if error is not None:
                errors.append(error)
        go_sources = tuple(t.source for t in compiled.values() if _is_go(t))
        return cls(templates_dir, env, compiled, _public_text(env) + go_sources), errors

    def render(
        self, resource: TemplateResource, snapshot: Snapshot, match: EachMatch | None = None
    ) -> bytes:
        """Render `resource` from `snapshot`. Pure: reads no file but the templates.

        `match` is the `each` match a file of an `each` resource renders (issue 14)."""
        template = self.compiled.get(_name(self.templates_dir, resource.src))
        if template is None:
            raise RenderError("template was not compiled", file=str(resource.src))
        if _is_go(template):
            return render_go(template, resource, snapshot, match, public=self.public)
        jinja_template = cast("jinja2.Template", template)
        return render_template(jinja_template, resource, snapshot, match, public=self.public)


def _public_text(env: jinja2.Environment | None) -> tuple[str, ...]:
    if env is None:
        return ()
    from confpy.render.jinja_env import Loader

    loader = env.loader
    return tuple(loader.sources.values()) if isinstance(loader, Loader) else ()


def _compile_contained(
    env: jinja2.Environment, name: str, src: Path
) -> tuple[jinja2.Template | None, ConfpyError | None]:
    """Compile one template; every exception becomes a one-line TemplateSyntaxError.

    The compile-time half of the resource boundary: a template nested thousands of levels
    deep is that template's problem alone.
    """
    import jinja2

    try:
        return env.get_template(name), None
    except jinja2.TemplateSyntaxError as e:
        message = e.message or "syntax error"
        return None, TemplateSyntaxError(
            one_line(message), file=e.filename or str(src), line=e.lineno
        )
    except ConfpyError as e:
        return None, e
    except jinja2.TemplateError as e:
        return None, TemplateSyntaxError(one_line(str(e)), file=str(src))
    except RecursionError:
        return None, TemplateSyntaxError("template is nested too deeply to compile", file=str(src))
    except Exception as e:
        return None, TemplateSyntaxError(
            f"template cannot be compiled ({type(e).__name__}{_short(e)})", file=str(src)
        )


def _short(e: BaseException) -> str:
    text = one_line(str(e))[:200]
    return f": {text}" if text else ""


def _compile_go_contained(
    path: Path, templates_dir: Path
) -> tuple[GoTemplate | None, ConfpyError | None]:
    """A confd Go template, parsed for the direct engine (Go's semantics, byte for byte);
    like `_compile_contained`, every exception is this template's problem alone."""
    from confpy.gotemplate.engine import GoTemplate

    try:
        source = limits.read_template(path)
    except (OSError, UnicodeDecodeError) as e:
        return None, TemplateSyntaxError(f"cannot read template: {e}", file=str(path))
    try:
        return GoTemplate.compile(source, str(path), str(templates_dir)), None
    except ConfpyError as e:
        return None, e
    except RecursionError:
        return None, TemplateSyntaxError("template is nested too deeply to compile", file=str(path))
    except Exception as e:
        return None, TemplateSyntaxError(
            f"template cannot be compiled ({type(e).__name__}{_short(e)})", file=str(path)
        )


def render_go(
    template: GoTemplate,
    resource: TemplateResource,
    snapshot: Snapshot,
    match: EachMatch | None = None,
    *,
    public: Iterable[str] = (),
) -> bytes:
    """Render a Go template inside the same boundary as Jinja's: values stay bytes (raw
    bytes are written back unchanged), any failure is one redacted RenderError."""
    view = snapshot.view(resource.prefix, resource.full_keys)
    each = None
    if match is not None:  # Go's map of strings: a key directory's missing value is ""
        each = {"Key": match.key, "Name": match.name, "Value": match.value or ""}
    try:
        # No prefix: the engine's MissingKeyError then names the key relative to it,
        # which _contained_error makes absolute.
        return template.render(view, each=each)
    except Exception as e:  # the resource boundary: see the module docstring
        # Which values the template read is not tracked here: redact every one in view.
        read = {
            _absolute(resource.prefix, k): v.decode("utf-8", "surrogateescape")
            for k, v in view.items()
        }
        line = getattr(e, "line", None)
        raise _contained_error(e, template.filename, resource, read, public, line=line) from None


def _name(templates_dir: Path, src: Path) -> str:
    try:
        return src.relative_to(templates_dir).as_posix()
    except ValueError:
        return src.as_posix()


def decode_view(resource: TemplateResource, snapshot: Snapshot) -> dict[str, str]:
    """The resource's keys relative to its prefix, values decoded as UTF-8.

    Bytes that are not UTF-8 are kept as surrogate escapes, so decoding never fails: a
    value the template never reads cannot fail it, and one it copies is written as the
    same bytes (see `_encode`).
    """
    raw = snapshot.view(resource.prefix, resource.full_keys)
    return {rel: value.decode("utf-8", "surrogateescape") for rel, value in raw.items()}


def render_template(
    template: jinja2.Template,
    resource: TemplateResource,
    snapshot: Snapshot,
    match: EachMatch | None = None,
    *,
    public: Iterable[str] = (),
) -> bytes:
    """Render one resource inside its boundary: any failure is one redacted RenderError."""
    view = decode_view(resource, snapshot)
    keyfuncs = KeyFunctions(view)
    context: dict[str, Any] = keyfuncs.functions()
    if match is not None:  # one file of an `each` resource (issue 14)
        context["each"] = match
    filename = template.filename or str(resource.src)
    try:
        return _encode(_generate(template, context))
    except Exception as e:  # the resource boundary: see the module docstring
        read = {_absolute(resource.prefix, k): view[k] for k in keyfuncs.read if k in view}
        if match is not None and match.value is not None:
            read[_absolute(resource.prefix, match.key)] = match.value
        raise _contained_error(e, filename, resource, read, public) from None


def _generate(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render, refusing output beyond `limits.MAX_OUTPUT_CHARS`."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > limits.MAX_OUTPUT_CHARS:
            raise RenderError(
                f"rendered output exceeds the limit of {limits.MAX_OUTPUT_CHARS} characters"
            )
        parts.append(chunk)
    return "".join(parts)


def _encode(text: str) -> bytes:
    """UTF-8, with surrogate escapes written back as the raw bytes they stand for."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as e:
        line = text.count("\n", 0, e.start) + 1
        raise RenderError(
            f"rendered output line {line} holds a character that has no UTF-8 encoding "
            f"(U+{ord(text[e.start]):04X})"
        ) from None


def _contained_error(
    error: Exception,
    filename: str,
    resource: TemplateResource,
    read: Mapping[str, str],
    public: Iterable[str],
    *,
    line: int | None = None,
) -> RenderError:
    """The one error a failed render becomes: template and line, text redacted.

    Called while `error` is being handled, so that its traceback gives the line.
    """
    try:
        line = line or _template_line(filename)
        if isinstance(error, MissingKeyError):
            # A key built from a value (`getv("/s/" ~ getv(k))`) is shown by its length.
            key = _absolute(resource.prefix, error.key)
            hide = redact(key, read, [*public, *resource.keys]) != key
            shown = describe_key(key, hide=hide)
            return MissingKeyError(shown, file=filename, line=line)
        reason = redact(_reason(error), read, [*public, *resource.keys])
    except Exception:  # the boundary itself must never fail
        reason = f"template failed ({type(error).__name__})"
    return RenderError(reason, file=filename, line=line)


def _reason(error: Exception) -> str:
    if isinstance(error, RenderError):
        return error.reason
    jinja2 = sys.modules.get("jinja2")  # a Jinja error only where Jinja is loaded
    if jinja2 is not None and isinstance(error, jinja2.UndefinedError):
        return error.message or "undefined name"
    if jinja2 is not None and isinstance(error, jinja2.TemplateError):
        return str(error)
    if isinstance(error, RecursionError):
        return "RecursionError: nested too deeply"
    if isinstance(error, MemoryError):
        return "MemoryError: out of memory rendering this template"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _absolute(prefix: str, rel: str) -> str:
    return (prefix + rel) if prefix else rel


def _template_line(filename: str) -> int | None:
    """The template line of the exception being handled (Jinja rewrites its frames)."""
    import traceback  # here: only a failed render reads a traceback

    tb: TracebackType | None = sys.exc_info()[2]
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line
