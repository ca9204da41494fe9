"""Check that rendered output parses as the format a resource declares (`validate = ...`).

An empty or broken file never replaces a good one: validation runs before staging.
"""

from __future__ import annotations

import json
import tomllib

from confpy.errors import RenderError


def validate_output(content: bytes, fmt: str, *, file: str) -> None:
    """Raise RenderError naming `file` (the template) when `content` is not valid `fmt`."""
    if not content.strip():
        raise RenderError(f"rendered output is empty, expected {fmt}", file=file)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError("rendered output is not UTF-8", file=file) from None
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            raise RenderError(
                f"rendered output is not valid JSON: {e.msg} "
                f"at output line {e.lineno} column {e.colno}",
                file=file,
            ) from None
    elif fmt == "toml":
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise RenderError(f"rendered output is not valid TOML: {e}", file=file) from None
    elif fmt == "yaml":
        import yaml

        try:
            yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at output line {mark.line + 1}" if mark is not None else ""
            raise RenderError(f"rendered output is not valid YAML{where}", file=file) from None
    else:  # pragma: no cover - resource loading rejects other formats
        raise RenderError(f"unknown validate format {fmt!r}", file=file)
