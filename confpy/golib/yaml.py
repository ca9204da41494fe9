"""YAML read into keys as confd's file backend reads it (gopkg.in/yaml.v2 and `nodeWalk`).

Nested maps join their keys with `/` (Go's `path.Join`, so `a/../b` is `/b`), list items
are keyed by index (`/hosts/0`), and scalars print as Go prints them: integers in
decimal (`0x10` is `16`, `017` is `15`), floats shortest without exponent (`1e3` is
`1000`, `1.50` is `1.5`), booleans `true`/`false` (`yes`, `on`, `y` are YAML 1.1
booleans to yaml.v2). Timestamps and `1:30` stay text. Nulls, and integers from 2**63 to
2**64-1 (a uint64 to yaml.v2, which confd's walk skips), give no key. A map key that is
not a string (which crashes confd) is an error naming the file and line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from typing import Any

from confpy.errors import ConfigError

_BOOLS = {
    **dict.fromkeys(
        ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True
    ),
    **dict.fromkeys(
        ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False
    ),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")


def read_yaml(text: str, name: str) -> dict[str, str]:
    """Every key confd's file backend reads from one YAML document; ConfigError names file:line."""
    import yaml

    from confpy.golib.yaml_bounded import DataLimitError, compose_bounded

    try:
        # Bounded: an alias (also under a `<<` merge) costs the nodes it names, and an
        # alias inside its own node is refused, before anything is walked.
        node = compose_bounded(text, _loader())
    except DataLimitError as e:
        raise ConfigError(e.message, file=name, line=e.line) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {e.problem or e.context}", file=name, line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {type(e).__name__}", file=name) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=name) from None
    out: dict[str, str] = {}
    if node is None:
        return out
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            "the top level must be a map of keys (confd refuses anything else)",
            file=name,
            line=node.start_mark.line + 1,
        )
    _Walker(name, out).walk(node, "/")
    return out


PLAIN = "tag:confpy,plain"
"""The tag composing gives every untagged plain scalar: resolved by `resolve`, not PyYAML."""
_RESOLVED_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")) | {
    PLAIN
}


@functools.cache
def _loader() -> Any:
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """Composes nodes only; every plain scalar is resolved here, as yaml.v2 resolves it."""

    Loader.yaml_implicit_resolvers = {}
    Loader.add_implicit_resolver(PLAIN, re.compile(".*", re.DOTALL), None)
    return Loader


MAX_NODES = 200_000
"""Nodes one file may expand to: aliases of aliases (a "billion laughs") stop here."""


class _Walker:
    def __init__(self, name: str, out: dict[str, str]) -> None:
        self.name, self.out = name, out
        self.visited = 0

    def walk(self, node: Any, key: str, depth: int = 0) -> None:
        import yaml

        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.error(f"expands to more than {MAX_NODES:,} nodes (aliases?)", node)
        if depth > 200:
            raise self.error("nested deeper than 200 levels", node)
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, go_path_join(key, str(i)), depth + 1)
        elif isinstance(node, yaml.MappingNode):
            for name_node, value_node in self.pairs(node):
                name = scalar(name_node) if isinstance(name_node, yaml.ScalarNode) else None
                if not isinstance(name, str):
                    raise self.error("a map key must be a string (confd crashes on it)", name_node)
                self.walk(value_node, go_path_join(key, name), depth + 1)
        else:
            text = _text(scalar(node))
            if text is not None:
                self.out[key] = text

    def pairs(self, node: Any) -> list[tuple[Any, Any]]:
        """A map's pairs with `<<` merges applied: the map's own keys win, as in yaml.v2."""
        import yaml

        own: list[tuple[Any, Any]] = []
        merged: list[tuple[Any, Any]] = []
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == "<<" and k.tag == PLAIN:
                sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise self.error("<< merges a map or a list of maps", source)
                    merged += self.pairs(source)
            else:
                own.append((k, v))
        names = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        return own + [(k, v) for k, v in merged if k.value not in names]

    def error(self, message: str, node: Any) -> ConfigError:
        return ConfigError(message, file=self.name, line=node.start_mark.line + 1)


def scalar(node: Any) -> object:
    """A scalar node's value as yaml.v2 decodes it into `interface{}`."""
    tag = node.tag
    value: str = node.value
    if tag == "tag:yaml.org,2002:binary":
        try:
            return base64.b64decode("".join(value.split()), validate=True).decode(
                "utf-8", "surrogateescape"
            )
        except (ValueError, binascii.Error):
            return value
    if tag in _RESOLVED_TAGS:
        return resolve(value)
    return value  # quoted, !!str, or a tag of the user's own


def resolve(plain: str) -> object:
    """yaml.v2's `resolve` of an untagged plain scalar."""
    if plain in _BOOLS:
        return _BOOLS[plain]
    if plain in _NULLS:
        return None
    if plain in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[plain]
    first = plain[0]
    if first == ".":
        return float(plain) if _DOT_FLOAT.fullmatch(plain) else plain
    if not (first.isascii() and (first.isdigit() or first in "+-")):
        return plain
    from confpy.golib.flag import parse_int, parse_uint

    digits = plain.replace("_", "")
    for parser in (parse_int, parse_uint):
        try:
            number = parser(digits)
        except ValueError:
            continue
        return number if parser is parse_int else _Uint64(number)
    return float(digits) if _FLOAT.fullmatch(digits) else plain


class _Uint64(int):
    """An integer yaml.v2 decodes as uint64 (2**63 and up): confd's walk has no case for it."""


def _text(value: object) -> str | None:
    """What confd's `nodeWalk` stores for a scalar; None where it stores nothing."""
    if value is None or isinstance(value, _Uint64):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        from confpy.golib.strconv import format_float

        return format_float(value, "f", -1)
    return str(value)


def go_path_join(base: str, name: str) -> str:
    """Go's `path.Join(base, name)`: joined with `/`, then cleaned (`..`, `.`, `//`)."""
    parts: list[str] = []
    for part in f"{base}/{name}".split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)
