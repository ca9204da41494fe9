"""Go's fmt/print.go printer: one argument by its kind, maps, slices and bad verbs.

Builds on confpy.gotemplate.goformat's `Formatter`; the Sprint/Sprintf entry points and
the directive parser are confpy.gotemplate.gofmt's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from confpy.gotemplate.goformat import Formatter
from confpy.gotemplate.values import (
    NULL,
    KVPair,
    Slice,
    Uint8,
    go_str_less_key,
    type_name,
)


class Printer(Formatter):
    """Go's pp: prints one argument with the verb and flags set by the caller."""

    # Printing one argument.

    def print_arg(self, arg: Any, verb: str, depth: int = 0) -> None:
        if arg is None or (arg is NULL and depth == 0):
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self.fmt_s(type_name(arg))
            return
        if verb == "p":
            self.bad_verb(verb, arg)
            return
        self.print_value(arg, verb, depth)

    def print_value(self, v: Any, verb: str, depth: int) -> None:
        f = self.f
        if v is NULL or v is None:
            if f.sharp_v:
                self.buf.append("interface {}(nil)")
            else:
                self.buf.append("<nil>")
            return
        if isinstance(v, datetime) and verb in "vsxXq" and not self.erroring:
            from confpy.golib.time import _time_string as time_string

            self.fmt_string(time_string(v), verb)
            return
        if hasattr(v, "go_string") and verb in "vsxXq" and not self.erroring and not f.sharp_v:
            self.fmt_string(v.go_string(), verb)  # a fmt.Stringer (time.Month, ...)
            return
        if isinstance(v, bool):
            if verb in "tv":
                self.pad("true" if v else "false")
            else:
                self.bad_verb(verb, v)
        elif isinstance(v, int):
            self.fmt_integer(v, verb, unsigned=isinstance(v, Uint8), arg=v)
        elif isinstance(v, float):
            self.fmt_float_verb(v, verb)
        elif isinstance(v, complex):
            self.fmt_complex(v, verb)
        elif isinstance(v, str):
            self.fmt_string(v, verb)
        elif isinstance(v, dict):
            self.print_map(v, verb, depth)
        elif isinstance(v, list):
            self.print_slice(v, verb, depth)
        elif isinstance(v, KVPair):
            self.print_kvpair(v, verb, depth)
        else:
            self.buf.append(str(v))

    def print_map(self, v: dict[Any, Any], verb: str, depth: int) -> None:
        f = self.f
        if f.sharp_v:
            self.buf.append("map[string]interface {}{")
        else:
            self.buf.append("map[")
        for i, k in enumerate(sorted(v, key=go_str_less_key)):
            if i:
                self.buf.append(", " if f.sharp_v else " ")
            self.print_value(k, verb, depth + 1)
            self.buf.append(":")
            self.print_value(v[k], verb, depth + 1)
        self.buf.append("}" if f.sharp_v else "]")

    def print_slice(self, v: list[Any], verb: str, depth: int) -> None:
        gotype = v.gotype if isinstance(v, Slice) else "[]interface {}"
        if self.f.sharp_v and getattr(v, "nil", False):
            self.buf.append(gotype + "(nil)")
        elif self.f.sharp_v:
            self.buf.append(gotype + "{")
            for i, x in enumerate(v):
                if i:
                    self.buf.append(", ")
                self.print_value(x, verb, depth + 1)
            self.buf.append("}")
        else:
            self.buf.append("[")
            for i, x in enumerate(v):
                if i:
                    self.buf.append(" ")
                self.print_value(x, verb, depth + 1)
            self.buf.append("]")

    def print_kvpair(self, v: KVPair, verb: str, depth: int) -> None:
        f = self.f
        if f.sharp_v:
            self.buf.append("memkv.KVPair")
        self.buf.append("{")
        for i, (name, x) in enumerate((("Key", v.Key), ("Value", v.Value))):
            if i:
                self.buf.append(", " if f.sharp_v else " ")
            if f.plus_v or f.sharp_v:
                self.buf.append(name + ":")
            self.print_value(x, verb, depth + 1)
        self.buf.append("}")

    def bad_verb(self, verb: str, arg: Any) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        self.print_typed(arg)
        self.buf.append(")")
        self.erroring = False

    def print_typed(self, arg: Any) -> None:
        """An argument fmt could not use, as Go shows it: `<nil>`, or `type=value`."""
        if arg is None or arg is NULL:
            self.buf.append("<nil>")
        else:
            self.buf.append(type_name(arg) + "=")
            self.print_arg(arg, "v")
