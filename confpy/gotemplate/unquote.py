"""Go's strconv.Unquote, for the string literals of the translator's parser and of convert.

Bytes that are not UTF-8 (`"\\xff"`) come back as surrogate escapes, which the
translator refuses.
"""

from __future__ import annotations


def go_unquote(text: str) -> str:
    """Go's strconv.Unquote for double- and single-quoted literals."""
    body = text[1:-1]
    out: list[str] = []
    i = 0
    pending = bytearray()

    def flush() -> None:
        if pending:
            out.append(pending.decode("utf-8", errors="surrogateescape"))
            pending.clear()

    simple = {
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "n": "\n",
        "r": "\r",
        "t": "\t",
        "v": "\v",
        "\\": "\\",
    }
    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("trailing backslash")
        e = body[i]
        if e in simple:
            flush()
            out.append(simple[e])
            i += 1
        elif e == text[0]:
            flush()
            out.append(e)
            i += 1
        elif e == "x":
            pending.append(int(body[i + 1 : i + 3], 16))
            i += 3
        elif e in "01234567":
            pending.append(int(body[i : i + 3], 8))
            i += 3
        elif e in "uU":
            width = 4 if e == "u" else 8
            flush()
            out.append(chr(int(body[i + 1 : i + 1 + width], 16)))
            i += 1 + width
        else:
            raise ValueError(f"unknown escape \\{e}")
    flush()
    return "".join(out)
