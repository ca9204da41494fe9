"""The fields that say who owns an installed file and how: `mode`, `uid`/`owner`, `gid`/`group`.

Each is checked on a `FieldParser` (its `get`, `error`, `warn`), so every problem names its
field and line as the other fields' do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from confpy.config.values import parse_mode

if TYPE_CHECKING:
    from confpy.config.fields import FieldParser


def mode_field(parser: FieldParser) -> int | None:
    """`mode`: an octal string, refused when it would make the file unsafe to keep."""
    if isinstance(parser.table.get("mode"), int) and not isinstance(parser.table["mode"], bool):
        # TOML reads `mode = 644` as decimal 644 (0o1204, sticky bit set): refuse it.
        raise parser.error("mode", 'write the mode as an octal string, e.g. mode = "0644"')
    text = parser.get("mode", str, 'an octal string such as "0644"')
    if not text:
        return None  # confd: "" is no mode (keep the file's own)
    mode = parse_mode(text)
    if mode is None:
        raise parser.error("mode", f'must be an octal string such as "0644", got {text!r}')
    if re.fullmatch(r"[1-7][0-7]{2,3}", text) and mode != int(text, 10) & 0o777:
        # confd: strconv.ParseUint(mode, 0, 32) reads "644" as decimal 644 = 0o1204, and
        # Go's chmod keeps only the 0o777 bits: the file gets 0o204. confpy reads octal.
        parser.warn(
            "mode",
            f"confd reads {text!r} as decimal (the file would get "
            f"{int(text, 10) & 0o777:04o}); confpy reads it as octal {mode:04o}",
        )
    if mode > 0o7777:
        raise parser.error("mode", f"{text}: {mode:o} is not a file mode (at most 7777 octal)")
    if mode & 0o7000:
        raise parser.error(
            "mode", f"{text}: setuid, setgid and sticky bits are refused for a config file"
        )
    if mode & 0o002:
        raise parser.error(
            "mode", f"{text}: a world-writable file would let any local user rewrite it"
        )
    return mode


def id_field(
    parser: FieldParser, name: str, by_name: str, lookup: Callable[[str], int]
) -> int | None:
    """uid from `uid` or from a user name in `owner` (gid and group alike)."""
    number: int | None = parser.get(name, int, "an integer")
    if number is not None and number < -1:
        raise parser.error(name, f"must be 0 or more (or -1: unset), got {number}")
    number = None if number == -1 else number  # confd's -1: the default id
    value = parser.get(by_name, str, f"a {'user' if by_name == 'owner' else 'group'} name")
    if value is None:
        return number
    if number is not None:
        raise parser.error(by_name, f"set either {by_name} or {name}, not both")
    try:
        return lookup(value)
    except KeyError:
        # Not the whole confdir: this file fails when it installs (if the user does not
        # exist by then: an entrypoint may create it after confpy starts).
        kind, parser.owner_names[by_name] = ("user" if by_name == "owner" else "group"), value
        parser.warn(by_name, f"no such {kind} {value!r} on this machine: installing will fail")
        return None
