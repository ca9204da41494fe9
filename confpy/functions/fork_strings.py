"""The maintained confd fork's string functions (abtreece/confd utility_funcs.go), once.

Both engines' adapters call these with Python strings (a byte that is not UTF-8 is a
surrogate escape) and map the errors (ValueError) to their own: indent/nindent, quote
helpers, regexMatch/regexFind/regexReplaceAll, repeat, nospace, the case conversions,
sha256sum and the interface address lookups. Pure except the interface lookups.
"""

from __future__ import annotations

import hashlib
import socket
import unicodedata

from confpy import limits
from confpy.golib.memkv import go_case

# Go's unicode.IsSpace: these and nothing else (Python's isspace adds U+001C..U+001F).
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


def indent(spaces: int, s: str) -> str:
    """Each line of `s` after `spaces` spaces (none for a negative count); "" stays ""."""
    if s == "":
        return ""
    width = max(spaces, 0)
    _check_size("indent", width * (s.count("\n") + 1) + len(s))  # before building the pad
    pad = " " * width
    return pad + s.replace("\n", "\n" + pad)


def squote(s: str) -> str:
    """`s` in single quotes, a single quote inside doubled (the fork's, not sprig's)."""
    return "'" + s.replace("'", "''") + "'"


def repeat(count: int, s: str) -> str:
    if count <= 0:
        return ""
    _check_size("repeat", count * len(s))
    return s * count


def _check_size(function: str, size: int) -> None:
    if size > limits.MAX_OUTPUT_CHARS:
        raise ValueError(f"{function}: result larger than {limits.MAX_OUTPUT_CHARS} characters")


def nospace(s: str) -> str:
    """`s` without Go's white space (unicode.IsSpace)."""
    return "".join(c for c in s if c not in _GO_SPACE)


def sha256sum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Case conversions: the fork's splitWords, rune by rune.


def _runes(s: str) -> list[str]:
    """Go's []rune(s): a byte that is not UTF-8 is U+FFFD."""
    return ["\ufffd" if "\udc80" <= c <= "\udcff" else c for c in s]


def _upper(c: str) -> bool:
    return unicodedata.category(c) == "Lu"  # Go's unicode.IsUpper


def _lower(c: str) -> bool:
    return unicodedata.category(c) == "Ll"


def split_words(s: str) -> list[str]:
    """Words split at `_`, `-`, space and upper-case boundaries ("HTTPServer" -> HTTP, Server)."""
    runes = _runes(s)
    words: list[str] = []
    current: list[str] = []
    for i, r in enumerate(runes):
        if r in "_- ":
            if current:
                words.append("".join(current))
                current = []
            continue
        if _upper(r) and current:
            next_lower = i + 1 < len(runes) and _lower(runes[i + 1])
            if next_lower or not _upper(runes[i - 1]):
                words.append("".join(current))
                current = []
        current.append(r)
    if current:
        words.append("".join(current))
    return words


def _go_lower(s: str) -> str:
    return go_case(s, upper=False)


def snakecase(s: str) -> str:
    return "_".join(_go_lower(w) for w in split_words(s))


def kebabcase(s: str) -> str:
    return "-".join(_go_lower(w) for w in split_words(s))


def camelcase(s: str) -> str:
    words = [_go_lower(w) for w in split_words(s)]
    return "".join(w if i == 0 else go_case(w[0], upper=True) + w[1:] for i, w in enumerate(words))


# Interface addresses (the fork's lookupIfaceIPV4/6): "" when there is none.


def iface_ipv4(name: str) -> str:
    """The interface's IPv4 address (Linux: its primary address), or ""."""
    import fcntl
    import struct

    if not name or "\0" in name or len(name.encode("utf-8", "surrogateescape")) > 15:
        return ""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", name.encode("utf-8", "surrogateescape"))
        try:
            reply = fcntl.ioctl(sock.fileno(), siocgifaddr, request)
        except OSError:  # no such interface, or no IPv4 address on it
            return ""
    return socket.inet_ntoa(reply[20:24])


def iface_ipv6(name: str) -> str:
    """The interface's first IPv6 address (Linux: /proc/net/if_inet6), or ""."""
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) == 6 and fields[5] == name:
            packed = bytes.fromhex(fields[0])
            if packed[:12] == b"\0" * 10 + b"\xff\xff":
                continue  # an IPv4-mapped address is IPv4 to Go
            return socket.inet_ntop(socket.AF_INET6, packed)
    return ""
