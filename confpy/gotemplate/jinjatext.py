"""Jinja spellings of text and values: string literals, literal text, Go literals, names.

Everything here is a pure function of its argument; the translator's other modules
build on it and it imports nothing from them.
"""

from __future__ import annotations

import re

from confpy.gotemplate.parsenodes import Literal


def jinja_string(s: str) -> str:
    """A Jinja string literal for `s` (Jinja decodes backslash escapes in literals)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


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


def jinja_literal(node: Literal) -> str:
    """The Jinja literal for a Go string, number, bool or nil literal."""
    v = node.value
    if node.kind == "string":
        assert isinstance(v, str)
        return jinja_string(v)
    if node.kind == "bool":
        return "true" if v else "false"
    if node.kind == "nil":
        return "none"
    if node.kind == "float":
        assert isinstance(v, float)
        text = repr(v)
        return f"({text})" if text.startswith("-") else text
    return f"({v})" if isinstance(v, int) and v < 0 else str(v)


_IDENT_RE = re.compile(r"[^A-Za-z0-9_]")


def safe_name(name: str) -> str:
    """A Jinja variable name for a Go one."""
    if name.isidentifier() and name.isascii() is False:
        return name  # Jinja takes Unicode names, as Go does.
    return _IDENT_RE.sub("_", name) or "root"
