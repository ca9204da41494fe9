"""The one redaction rule: a message never carries a value from etcd or rendered content.

Values may be private keys, and messages go to stderr, the log, and the unauthenticated
`/healthz`. confpy's own messages describe values by length (`describe`). Everything
else that can end up in a message, notably the text of an exception raised by Jinja,
Python or a template function, passes through `redact` at the resource boundary
(`confpy.templates.render_template`), which knows the resource's values and the text of
its templates:

1. a quoted string (`'...'` or `"..."`, as `repr` writes one) that does not occur in a
   template is replaced by its length (and the key, when it is a whole value);
2. every stretch of 16 or more characters that also occurs in a value (raw, or escaped
   as `repr` and JSON escape it) is replaced, unless it also occurs in a template or a
   key name (those are configuration, not secrets);
3. a run of more than 100 non-blank characters that no template contains is replaced
   by its length;
4. the result is one line of at most 500 characters.

Names of keys a template asked for but etcd lacks are shown only when they look like key
names (`describe_key`); a key built from a value is described by length and checksum.
What a check command prints about the staged file gets rule 2 (`scrub`) against the
resource's values, minus what its template says.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping

WINDOW = 16
"""Shortest stretch of a value that rule 2 recognises inside a message."""
MAX_TOKEN = 100
MAX_MESSAGE = 500
MAX_SCANNED = 20_000

_QUOTED = re.compile(r"""(?<![\w\\])(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""", re.DOTALL)
_TOKEN = re.compile(rf"\S{{{MAX_TOKEN + 1},}}")
_KEYLIKE = re.compile(r"[\x21-\x7e]{1,200}")
_KEEP_QUOTED = re.compile(r"[\w.]+( object)?")
"""Type names as Python and Jinja quote them (`'str'`, `'dict object'`): never a secret."""
_PYTHON_TYPES = frozenset(
    {
        *("str", "int", "float", "bool", "list", "dict", "tuple", "set", "bytes", "NoneType"),
        *("KVPair", "SRV", "datetime", "Undefined", "StrictUndefined", "Markup"),
        *("LoopContext", "Macro", "Cycler", "Joiner", "Namespace"),
    }
)


def describe(value: object) -> str:
    """A value as messages may show it: its kind and size, never its content."""
    if isinstance(value, str):
        return f"{len(value)}-character string"
    if isinstance(value, bytes | bytearray):
        return f"{len(value)}-byte value"
    if isinstance(value, list | tuple | dict | set):
        return f"{type(value).__name__} of {len(value)} items"
    return f"value of type {type(value).__name__}"


def checksum(text: str) -> str:
    """A short, stable fingerprint to tell two values apart without showing either."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:12]}"


def describe_key(key: str, *, hide: bool = False) -> str:
    """A key name as asked for by a template: shown when it looks like one, else described.

    `hide` describes it anyway (the caller found a value inside it).
    """
    if not hide and _KEYLIKE.fullmatch(key):
        return key
    return f"<{len(key)}-character key, {checksum(key)}>"


def redact(message: str, values: Mapping[str, str], public: Iterable[str] = ()) -> str:
    """`message` without anything from `values` (key -> value) that `public` lacks.

    `public` is text an operator wrote (template sources, key names): what occurs in it
    is configuration and may be quoted back.
    """
    public_text = "\0".join(public)
    keys_text = "\0".join(values)
    known = public_text + "\0" + keys_text
    by_value = {v: k for k, v in values.items() if v}

    def quoted(m: re.Match[str]) -> str:
        inner = _unquote(m.group(0))
        if _KEEP_QUOTED.fullmatch(inner) and (inner in _PYTHON_TYPES or inner.endswith(" object")):
            return m.group(0)
        if inner == "" or inner in known:
            return m.group(0)
        key = by_value.get(inner)
        if key is not None:
            return f"<value of {key}: {len(inner)} characters>"
        return f"<{len(inner)}-character string>"

    text = _QUOTED.sub(quoted, message)
    if len(text) > MAX_SCANNED:
        text = text[:MAX_SCANNED] + " ...(truncated)"
    text = _scrub_windows(text, values, known)
    text = _TOKEN.sub(
        lambda m: m.group(0) if m.group(0) in known else f"<{len(m.group(0))}-character text>",
        text,
    )
    return one_line(text)


def scrub(text: str, values: Mapping[str, str], public: Iterable[str] = ()) -> str:
    """Rule 2 alone, for text a command printed (a check_cmd echoing the staged file):
    every 16+ character stretch of `values` (key or label -> text) that `public` lacks."""
    known = "\0".join([*public, *values])
    return _scrub_windows(text, values, known)


def one_line(text: str) -> str:
    """Control characters made visible, at most MAX_MESSAGE characters."""
    out = "".join(c if c.isprintable() else " " for c in text)
    out = re.sub(r" {2,}", " ", out).strip()
    if len(out) > MAX_MESSAGE:
        out = out[: MAX_MESSAGE - 15] + " ...(truncated)"
    return out


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    if "\\" not in body:
        return body
    try:
        return str(body.encode("latin-1", "backslashreplace").decode("unicode_escape"))
    except (UnicodeDecodeError, UnicodeEncodeError):
        return body


def _forms(value: str) -> set[str]:
    """How a value can appear inside a message: raw, repr-escaped, JSON-escaped."""
    forms = {value, repr(value)[1:-1]}
    try:
        forms.add(json.dumps(value)[1:-1])
        forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    except (TypeError, ValueError):  # pragma: no cover - a str always dumps
        pass
    return {f for f in forms if len(f) >= WINDOW}


def _scrub_windows(text: str, values: Mapping[str, str], known: str) -> str:
    """Replace every stretch of WINDOW+ characters that also occurs in a value (rule 2).

    Costs one pass over the values' text: the message's windows go in a dict, and each
    window of each value is looked up in it.
    """
    if len(text) < WINDOW:
        return text
    starts: dict[str, list[int]] = {}
    for start in range(len(text) - WINDOW + 1):
        starts.setdefault(text[start : start + WINDOW], []).append(start)
    owner: list[str | None] = [None] * len(text)
    public: dict[str, bool] = {}
    for key, value in values.items():
        for form in _forms(value):
            for j in range(len(form) - WINDOW + 1):
                window = form[j : j + WINDOW]
                hits = starts.get(window)
                if not hits:
                    continue
                if window not in public:
                    public[window] = window in known
                if public[window]:
                    continue
                for start in hits:
                    for i in range(start, start + WINDOW):
                        owner[i] = owner[i] or key
    if not any(owner):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if owner[i] is None:
            out.append(text[i])
            i += 1
            continue
        j = i
        while j < len(text) and owner[j] is not None:
            j += 1
        out.append(f"<{j - i} characters of the value of {owner[i]}>")
        i = j
    return "".join(out)
