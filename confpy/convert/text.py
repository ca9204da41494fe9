"""Jinja spellings of text and values: string literals, literal text, Go literals, names.

Everything here is a pure function of its argument; the translator's other modules
build on it and it imports nothing from them.
"""

from __future__ import annotations

import re

from confpy.gotemplate.gonodes import NumberNode

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES.update({chr(c): f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if chr(c) not in _ESCAPES})


def jinja_string(s: str) -> str:
    """A Jinja string literal for `s` (Jinja decodes backslash escapes in literals)."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in s) + '"'


def escape_text(text: str) -> str:
    """Literal text Jinja passes through unchanged.

    Jinja would open a tag at `{{`, `{%` or `{#` (also when our own tag follows a trailing
    `{`) and would turn `\\r\\n` into `\\n`; those characters are written as expressions.
    """
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch == "{" and (i + 1 == n or text[i + 1] in "{%#"):
            out.append("{{ '{' }}")
        elif ch == "\r":
            out.append('{{ "\\r" }}')
        else:
            out.append(ch)
    return "".join(out)


def number_kind(n: NumberNode) -> str | None:
    """The Go kind a number literal is evaluated as (int, float), as exec's idealConstant
    decides; None for complex numbers and unsigned values that overflow int."""
    text = n.text
    hex_int = text[:2] in ("0x", "0X") and not any(c in text for c in "pP")
    if n.is_complex:
        return None
    if n.is_float and not hex_int and text[0] != "'" and any(c in text for c in ".eEpP"):
        return "float"
    return "int" if n.is_int else None


def jinja_number(n: NumberNode, kind: str) -> str:
    """The Jinja literal for a Go number literal of `kind` (int or float)."""
    text = repr(n.float64) if kind == "float" else str(n.int64)
    return f"({text})" if text.startswith("-") else text


_IDENT_RE = re.compile(r"[^A-Za-z0-9_]")


def safe_name(name: str) -> str:
    """A Jinja variable name for a Go one."""
    if name.isidentifier() and name.isascii() is False:
        return name  # Jinja takes Unicode names, as Go does.
    return _IDENT_RE.sub("_", name) or "root"
