"""The one redaction rule: a message never carries a value from etcd or rendered content.

Values may be private keys, and messages go to stderr, the log, and the unauthenticated
`/healthz`. confpy's own messages describe values by length (`describe`). Everything
else that can end up in a message, notably the text of an exception raised by Jinja,
Python or a template function, passes through `redact` at the resource boundary
(`confpy.render.templates.render_template`), which knows the resource's values and the text of
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

What a command prints (check, reload, restart: `OutputScrubber`) may echo the files it
reads, values transformed by the template included. Its output is scrubbed of:

5. every line of the old and new file, stripped, of MIN_LINE characters or more, wherever
   it occurs; a line a template contains verbatim stays (it is configuration, not data);
6. rule 2 against the raw values and against the files' text (catching a value the
   template transformed, `upper` or `base64Encode`, when a command prints part of a line);
7. when any file the command reads is private (its resource says `secret = true`, or
   `is_private`: its old or new mode lets others not read it), the output is withheld
   whole (`withheld`: its length and checksum only) wherever it would be shown: a
   command that transforms what it prints (`tr a-z A-Z`, `rev`, a fragment of a word)
   defeats any matching;
8. every line of a raw value of MIN_LINE characters or more that no template holds,
   wherever it occurs (a checker quoting the token it refuses: most passwords are
   shorter than WINDOW).

Lines shorter than MIN_LINE (`}`, `fi`, `</a>`) are everywhere in any output and carry
no secret worth hiding; a short secret is still caught by rule 6 as part of a longer
stretch, and a private file's output is withheld (rule 7). `redact_url` hides the user
information of a URL (`http://user:***@host`): every message that quotes an endpoint
uses it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

WINDOW = 16
"""Shortest stretch of a value that rule 2 recognises inside a message."""
MIN_LINE = 8
"""Shortest line of a file that command output is scrubbed of wherever it occurs (rule 5)."""
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


# Up to the last `@` anywhere: a password typed unencoded may hold `/`, `?` or `#`, which
# end the authority for a URL parser but not for the person who typed it.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?(.*)@", re.DOTALL)


def redact_url(url: str) -> str:
    """`url` with its user information hidden: `http://user:***@host:2379`.

    For every URL a message quotes, valid or not: what precedes the last `@` (after the
    scheme, if any) is user information, even where `/?#` would end a valid authority; a
    password after its `:` becomes `***`, and a user name alone (it may be a token) too.
    """
    m = _USERINFO.match(url)
    if m is None:
        return url
    scheme, userinfo = m.group(1) or "", m.group(2)
    user, colon, _ = userinfo.partition(":")
    hidden = f"{user}:***" if colon else "***"
    return f"{scheme}{hidden}@{url[m.end() :]}"


def is_private(*modes: int | None) -> bool:
    """A file is private when any of its modes (old, new; None: no file) denies others read."""
    return any(mode is not None and not mode & 0o004 for mode in modes)


@dataclass(frozen=True)
class FileText:
    """A file a command may read, as rule 5 sees it: its path, old and new text."""

    path: str
    old: str
    new: str
    private: bool


def withheld(output: str) -> str:
    """What is shown of a command's output when it may hold a private file: its size."""
    return (
        f"<output withheld: {len(output)} characters, {checksum(output)}; a private file is "
        "involved, run the command by hand to read it>"
    )


class OutputScrubber:
    """Rules 5 to 8 and 2: what a command printed, without the files' lines and the values;
    withheld whole (`withheld`) when any of the files is private.

    Built once per change set (cheap: a dict of stripped lines); `scrub` costs a pass over
    the output, one lookup per line of the files and one pass over their text, and runs
    only when there is output to show (a command failed).
    """

    def __init__(
        self, files: Sequence[FileText], values: Mapping[str, str], public: Iterable[str]
    ) -> None:
        self.private = any(f.private for f in files)
        """A private file is among them: `scrub` withholds the output whole."""
        public = list(public)
        template_lines = {line.strip() for text in public for line in text.splitlines()}
        self.lines: dict[str, str] = {}
        """Stripped line -> the file it is from: hidden wherever it occurs."""
        known = "\0".join(public)
        for f in files:
            for line in (*f.old.splitlines(), *f.new.splitlines()):
                text = line.strip()
                if len(text) >= MIN_LINE and text not in template_lines:
                    self.lines.setdefault(text, _label(f))
        for key, value in values.items():  # rule 8: a whole value, however short
            for line in value.splitlines():
                text = line.strip()
                if len(text) >= MIN_LINE and text not in known:
                    self.lines.setdefault(text, f"the value of {key}")
        self.values = {f"the value of {k}": v for k, v in values.items()}
        # Lines joined by NUL: a stretch of output never matches across two lines of a file.
        # Files are matched as printed (raw), values also as repr and JSON escape them.
        self.files = {
            _label(f): "\0".join([*f.old.splitlines(), *f.new.splitlines()]) for f in files
        }
        self.known = "\0".join([*public, *values])

    def scrub(self, output: str) -> str:
        if not output:
            return output
        if self.private:
            return withheld(output)
        owner: list[str | None] = [None] * len(output)
        self._mark_lines(output, owner)
        _mark_windows(output, owner, self.values, self.known)
        _mark_windows(output, owner, self.files, self.known, raw=True)
        return _replace_marked(output, owner)

    def _mark_lines(self, output: str, owner: list[str | None]) -> None:
        """Rules 5 and 8: the output's MIN_LINE-character windows in a dict, each file line
        looked up by its first MIN_LINE characters, then compared whole."""
        starts: dict[str, list[int]] = {}
        for i in range(len(output) - MIN_LINE + 1):
            starts.setdefault(output[i : i + MIN_LINE], []).append(i)
        for text, path in self.lines.items():
            for i in starts.get(text[:MIN_LINE], ()):
                if output.startswith(text, i):
                    owner[i : i + len(text)] = [path] * len(text)


def _label(f: FileText) -> str:
    """How a hidden stretch names its file: by its base name (the message names the path)."""
    return f"the file {f.path.rsplit('/', 1)[-1]}"


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
    """Replace every stretch of WINDOW+ characters that also occurs in a value (rule 2)."""
    owner: list[str | None] = [None] * len(text)
    _mark_windows(text, owner, {f"the value of {k}": v for k, v in values.items()}, known)
    return _replace_marked(text, owner)


def _mark_windows(
    text: str, owner: list[str | None], values: Mapping[str, str], known: str, raw: bool = False
) -> None:
    """Mark every WINDOW+ stretch of `text` that also occurs in a value (label -> text) and
    not in `known`, with the value's label.

    Costs one pass over the values' text: the text's windows go in a dict, and each
    window of each value is looked up in it; a window is marked once, however often the
    values repeat it (a file of similar lines repeats most of them).
    """
    if len(text) < WINDOW:
        return
    starts: dict[str, list[int]] = {}
    for start in range(len(text) - WINDOW + 1):
        starts.setdefault(text[start : start + WINDOW], []).append(start)
    for label, value in values.items():
        for form in (value,) if raw else _forms(value):
            for j in range(len(form) - WINDOW + 1):
                window = form[j : j + WINDOW]
                hits = starts.pop(window, None)  # popped: the first value to hold it owns it
                if not hits or window in known:
                    continue
                for start in hits:
                    for i in range(start, start + WINDOW):
                        owner[i] = owner[i] or label


def _replace_marked(text: str, owner: list[str | None]) -> str:
    """Each run of marked characters becomes `<N characters of LABEL>`."""
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
        out.append(f"<{j - i} characters of {owner[i]}>")
        i = j
    return "".join(out)
