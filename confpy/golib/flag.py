"""Go's `flag` package, as confd's `main` uses it: parse a command line the way Go does.

`-name`, `--name`, `-name=value`, `-name value` (the next argument, whatever it looks
like), booleans alone or as `-name=true|false|1|0|t|f...`, `--` ends the flags, the first
argument that is not a flag ends them too, a repeated flag overrides (a list flag
appends). `-h`/`-help` ask for the usage. Errors carry Go's own wording
(`flag provided but not defined: -x`). Integers are read as `strconv.ParseInt(s, 0, 64)`
reads them (`0x10`, `0o17`, `017`, `1_000`). Pure: nothing here prints or exits.
"""

from __future__ import annotations

from confpy.errors import ConfigError

# typing.TYPE_CHECKING without importing typing: `confd -help` starts without it.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Literal

    Kind = Literal["bool", "string", "int", "list"]

Value = bool | str | int | tuple[str, ...]

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_TYPE_WORD = {"bool": "", "string": "string", "int": "int", "list": "value"}


class FlagError(ConfigError):
    """A command line Go's flag package would refuse; the message is Go's."""


class HelpRequested(Exception):
    """`-h` or `-help`: Go prints the usage and exits 0."""


class Flag:
    """One flag as Go's `flag.String`/`Bool`/`Int`/`Var` declares it.

    A plain class, not a dataclass: `confd -help` and `-version` start without loading
    dataclasses (and inspect), see tests/test_imports.py. Treated as immutable.
    """

    __slots__ = ("default", "kind", "name", "usage")

    def __init__(self, name: str, kind: Kind, default: Value, usage: str) -> None:
        self.name = name
        self.kind = kind
        self.default = default
        self.usage = usage


class Parsed:
    """A parsed command line (a plain class, as `Flag`)."""

    __slots__ = ("args", "values")

    def __init__(self, values: dict[str, Value], args: tuple[str, ...] = ()) -> None:
        self.values = values
        """Every flag's value: the default unless the command line set it."""
        self.args = args
        """What follows the flags."""


def parse(flags: Iterable[Flag], argv: Sequence[str]) -> Parsed:
    """Parse `argv` as Go's `FlagSet.Parse` does; raise FlagError with Go's message."""
    formal = {f.name: f for f in flags}
    values: dict[str, Value] = {n: f.default for n, f in formal.items()}
    args = list(argv)
    while args:
        s = args[0]
        if len(s) < 2 or s[0] != "-":
            break
        if s == "--":
            args.pop(0)
            break
        name = s[2:] if s[1] == "-" else s[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {_shown(s)}")
        args.pop(0)
        value: str | None = None
        if "=" in name[1:]:
            name, value = name.split("=", 1)
        flag = formal.get(name)
        if flag is None:
            if name in ("help", "h"):
                raise HelpRequested
            raise FlagError(f"flag provided but not defined: -{_shown(name)}")
        if flag.kind != "bool" and value is None:
            if not args:
                raise FlagError(f"flag needs an argument: -{name}")
            value = args.pop(0)
        values[name] = _set(flag, values[name], value)
    return Parsed(values, tuple(args))


def _set(flag: Flag, old: Value, value: str | None) -> Value:
    if flag.kind == "bool":
        if value is None or value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise FlagError(f"invalid boolean value {go_quote(value)} for -{flag.name}: parse error")
    assert value is not None
    if flag.kind == "int":
        try:
            return parse_int(value)
        except ValueError as e:
            raise FlagError(f"invalid value {go_quote(value)} for flag -{flag.name}: {e}") from None
    if flag.kind == "list":
        assert isinstance(old, tuple)
        return (*old, value)
    return value


def usage(flags: Iterable[Flag], prog: str) -> str:
    """The usage text Go's `PrintDefaults` writes, flags in name order."""
    lines = [f"Usage of {prog}:"]
    for f in sorted(flags, key=lambda f: f.name):
        head = f"  -{f.name}" + (f" {_TYPE_WORD[f.kind]}" if _TYPE_WORD[f.kind] else "")
        text = head + ("\t" if len(head) <= 4 else "\n    \t") + f.usage.replace("\n", "\n    \t")
        if f.kind == "string" and f.default:
            text += f" (default {go_quote(str(f.default))})"
        elif f.kind == "int" and f.default:
            text += f" (default {f.default})"
        lines.append(text)
    return "\n".join(lines) + "\n"


def _shown(text: str) -> str:
    """`text` as Go prints it, escaped when it holds control characters (one line, no ESC)."""
    return text if text.isprintable() else go_quote(text)[1:-1]


def go_quote(s: str) -> str:
    """strconv.Quote, as `%q` prints an argument in Go's messages."""
    from confpy.golib.strconv import quote

    return quote(s)


# strconv.ParseInt(s, 0, 64), with the flag package's two error words.

_MAX = (1 << 64) - 1


def parse_int(s: str) -> int:
    """`strconv.ParseInt(s, 0, 64)`; ValueError("parse error" | "value out of range")."""
    body = s[1:] if s[:1] in ("+", "-") else s
    n = parse_uint(body)
    cutoff = 1 << 63
    if s[:1] == "-":
        if n > cutoff:
            raise ValueError("value out of range")
        return -n
    if n >= cutoff:
        raise ValueError("value out of range")
    return n


def parse_uint(s: str) -> int:
    """`strconv.ParseUint(s, 0, 64)`: no sign; the same two errors."""
    if not s:
        raise ValueError("parse error")
    digits, base = s, 10
    if s[0] == "0":
        prefix = s[1:2].lower()
        if len(s) >= 3 and prefix in ("b", "o", "x"):
            base, digits = {"b": 2, "o": 8, "x": 16}[prefix], s[2:]
        else:
            base, digits = 8, s[1:]
    cutoff = _MAX // base + 1
    n = 0
    underscores = False
    for c in digits:
        if c == "_":
            underscores = True
            continue
        d = _digit(c)
        if d >= base:
            raise ValueError("parse error")
        if n >= cutoff:
            raise ValueError("value out of range")
        n = n * base + d
        if n > _MAX:
            raise ValueError("value out of range")
    if underscores and not _underscore_ok(s):
        raise ValueError("parse error")
    return n


def _digit(c: str) -> int:
    if "0" <= c <= "9":
        return ord(c) - ord("0")
    if "a" <= c.lower() <= "z" and c.isascii():
        return ord(c.lower()) - ord("a") + 10
    return 99


def _underscore_ok(s: str) -> bool:
    """Go's rule: `_` only between digits, or right after a base prefix."""
    saw, i, hexa = "^", 0, False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for c in s[i:]:
        if c.isascii() and (c.isdigit() or (hexa and c.lower() in "abcdef")):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"
