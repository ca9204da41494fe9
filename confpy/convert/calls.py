"""Go function calls and time methods as typed Jinja expressions, or a refusal.

`CallTranslator` knows what each of confd's and Go's functions returns and which
argument kinds its plain-Jinja spelling handles exactly; it refuses the rest with
`NotReadable`. `jinjaexpr` builds pipelines and operands on top of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confpy.convert.text import jinja_string
from confpy.errors import TemplateSyntaxError
from confpy.gotemplate.confdfuncs import SIGNATURES

# What each function the translation knows returns; any other function is refused.
_RETURNS: dict[str, str] = {
    **dict.fromkeys(("getv", "base", "dir", "replace", "base64Encode", "base64Decode"), "str"),
    **dict.fromkeys(("getenv", "toUpper", "toLower", "trimSuffix", "join", "printf"), "str"),
    **{"print": "str"},
    **dict.fromkeys(("getvs", "ls", "lsdir", "split", "sortByLength"), "list:str"),
    **dict.fromkeys(("lookupIP", "lookupIPV4", "lookupIPV6", "reverse"), "list:str"),
    **dict.fromkeys(("exists", "fileExists", "contains", "parseBool", "not"), "bool"),
    **dict.fromkeys(("eq", "ne", "lt", "le", "gt", "ge"), "bool"),
    **dict.fromkeys(("atoi", "add", "sub", "mul", "div", "mod", "len"), "int"),
    **{"gets": "list:kv", "sortKVByLength": "list:kv", "get": "kv", "lookupSRV": "list:srv"},
    **{"json": "map:any", "map": "map:any", "jsonArray": "list:any", "seq": "list:int"},
    **{"datetime": "time", "and": "any", "or": "any", "index": "any"},
}
# The Go parameter types (confdfuncs.SIGNATURES) and the kind an argument must be known to
# have: Go refuses other kinds at run time, where the Jinja function would raise its own.
_PARAM_KINDS = {"string": "str", "int": "int", "[]string": "list:str", "[]memkv.KVPair": "list:kv"}
# What a value of unknown kind may hold: what the go_value macro prints as Go does.
_PRINTABLE = {"str", "int", "float", "bool", "none", "any", "list:str", "list:int", "list:any"}
_PRINTABLE |= {"map:any"}
_FIXED_ARITY = {"not": 1, "len": 1, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2}
_MIN_ARITY = {"and": 1, "or": 1, "eq": 2, "index": 1, "printf": 1, "print": 0}
# Go layout elements with an exact strftime equivalent (glibc's %-d drops the padding).
_STRFTIME = {
    **{"January": "%B", "Jan": "%b", "Monday": "%A", "Mon": "%a", "MST": "%Z", "2006": "%Y"},
    **{"06": "%y", "01": "%m", "1": "%-m", "02": "%d", "2": "%-d", "15": "%H", "03": "%I"},
    **{"3": "%-I", "04": "%M", "4": "%-M", "05": "%S", "5": "%-S", "PM": "%p", "-0700": "%z"},
    **{"002": "%j"},
}


class NotReadable(TemplateSyntaxError):
    """The construct has no exact plain-Jinja spelling; the `.tmpl` still runs as it is."""


@dataclass
class Typed:
    """A Jinja expression and what Go kind of value it gives (str, int, list:str, kv, any...)."""

    text: str
    type: str = "any"
    atomic: bool = True
    lookup: tuple[str, str] | None = None
    """For `m.get("k")`: the map expression and the quoted key (nil vs missing in Go)."""
    value: str | None = None
    """The string, for a string literal."""

    def operand(self) -> str:
        return self.text if self.atomic else f"({self.text})"


class CallTranslator:
    """Translates function calls and methods; `filename` names the template in errors."""

    filename: str

    def fail(self, line: int, what: str, why: str = "has no exact plain-Jinja form") -> NotReadable:
        return NotReadable(
            f"{what} {why}; keep the .tmpl (confpy runs it as is)", file=self.filename, line=line
        )

    # Calls.

    def rmethod(self, base: Typed, name: str, args: list[Typed], line: int) -> Typed:
        if base.type == "time" and name == "Format" and len(args) == 1:
            if args[0].value is None:
                raise self.fail(line, "Format with a computed layout")
            fmt = _strftime(args[0].value)
            if fmt is None:
                raise self.fail(line, f"time layout {args[0].text}")
            return Typed(f"{base.operand()}.strftime({jinja_string(fmt)})", "str")
        if base.type == "time" and name in ("Year", "Day", "Hour", "Minute", "Second") and not args:
            return Typed(f"{base.operand()}.{name.lower()}", "int")
        raise self.fail(line, f"method .{name}")

    def rcall(self, name: str, args: list[Typed], line: int) -> Typed:
        self.check_arity(name, len(args), line)
        if name not in _RETURNS:
            raise self.fail(line, name)
        if name not in ("and", "or", "not", "print", "printf") and any(
            a.type == "none" for a in args
        ):
            raise self.fail(line, f"{name} of nil (Go refuses or prints it its own way)")
        texts = [a.operand() for a in args]
        if name in ("and", "or"):
            types = {a.type for a in args}
            if len(types) > 1 and not types <= _PRINTABLE:
                raise self.fail(line, f"{name} of a {' or a '.join(sorted(types))} value")
            return Typed(f" {name} ".join(texts), types.pop() if len(types) == 1 else "any", False)
        if name == "not":
            return Typed(f"not {texts[0]}", "bool", False)
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return self.rcompare(name, args, texts, line)
        if name == "len":
            return self.rlen(args[0], line)
        if name == "index":
            return self.rindex(args, line)
        if name == "printf":
            return self.rprintf(args, line)
        if name == "print":
            if not all(a.type in ("str", "int") for a in args):
                raise self.fail(line, "print of anything but strings and integers")
            parts: list[str] = []
            for i, a in enumerate(args):
                if i and a.type != "str" and args[i - 1].type != "str":
                    parts.append('" "')
                parts.append(texts[i])
            return Typed(" ~ ".join(parts) or '""', "str", len(parts) == 1)
        self.check_kinds(name, args, line)
        if name in ("ls", "lsdir"):
            return self.rls(name, args[0])
        return Typed(f"{name}({', '.join(a.text for a in args)})", _RETURNS[name])

    def rlen(self, arg: Typed, line: int) -> Typed:
        if arg.type == "str":  # Go counts bytes
            return Typed(f'{arg.operand()}.encode("utf-8")|length', "int", False)
        if not arg.type.startswith(("list:", "map:")):
            raise self.fail(line, f"len of a {arg.type} value", "is an error in Go")
        return Typed(f"{arg.operand()}|length", "int", False)

    def check_arity(self, name: str, n: int, line: int) -> None:
        """Go checks the number of arguments when it runs the call: refuse a wrong one."""
        if name in SIGNATURES:
            fixed, variadic = SIGNATURES[name]
            want, at_least = len(fixed), variadic is not None
        elif name in _FIXED_ARITY or name in _MIN_ARITY:
            want, at_least = _FIXED_ARITY.get(name, 0) or _MIN_ARITY[name], name in _MIN_ARITY
        else:
            return
        if n < want or (n > want and not at_least):
            at = "at least " if at_least else ""
            what = f"wrong number of args for {name}: want {at}{want} got {n}"
            raise self.fail(line, what, "is an error in Go")

    def check_kinds(self, name: str, args: list[Typed], line: int) -> None:
        """Go refuses an argument of another type than the parameter's when it runs the call,
        where the Jinja function would raise its own error, or convert it: refuse it here."""
        fixed, variadic = SIGNATURES.get(name, ((), None))
        for i, arg in enumerate(args):
            param = fixed[i] if i < len(fixed) else variadic
            kind = _PARAM_KINDS.get(param or "")
            if kind is not None and arg.type != kind:
                raise self.fail(line, f"{name} of a {arg.type} value where Go takes a {param}")
        if name == "reverse" and args[0].type != "list:str":
            raise self.fail(line, "reverse of anything but a list of strings")

    def rls(self, name: str, key: Typed) -> Typed:
        """Go's `ls` of a key that has a value lists that key's own name too (memkv's List)."""
        text = f"{name}({key.text})"
        if name == "lsdir":
            return Typed(text, "list:str")
        own = f"base({key.text})" if key.value is None else jinja_string(key.value.split("/")[-1])
        return Typed(
            f"({text} + ([{own}] if exists({key.text}) else []))|unique(true)"
            "|sort(case_sensitive=true)",
            "list:str",
        )

    def rcompare(self, name: str, args: list[Typed], texts: list[str], line: int) -> Typed:
        kinds = {a.type for a in args}
        if not kinds <= {"str", "int", "float", "bool"}:
            raise self.fail(line, f"{name} of a value of unknown kind (Go may refuse it)")
        if len(kinds) > 1 or (name != "eq" and "bool" in kinds):
            raise self.fail(line, f"{name} of values of different kinds", "is an error in Go")
        op = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[name]
        if name == "eq" and len(texts) > 2:
            return Typed(" or ".join(f"{texts[0]} == {t}" for t in texts[1:]), "bool", False)
        return Typed(f"{texts[0]} {op} {texts[1]}", "bool", False)

    def rindex(self, args: list[Typed], line: int) -> Typed:
        out = args[0]
        for idx in args[1:]:
            elem = out.type.split(":", 1)[1] if ":" in out.type else "any"
            if out.type.startswith("map:") and idx.type == "str":
                out = Typed(f"{out.operand()}.get({idx.text})", elem)
            elif out.type.startswith("list:") and idx.type == "int" and idx.text.isdigit():
                out = Typed(f"{out.operand()}[{idx.text}]", elem)
            elif out.type == "any" and idx.value is not None:
                out = Typed(f"{out.operand()}.get({idx.text})", "any")
            else:
                raise self.fail(line, f"index of a {out.type} value with a {idx.type}")
        return out

    def rprintf(self, args: list[Typed], line: int) -> Typed:
        fmt = args[0].value
        if fmt is None:
            raise self.fail(line, "printf with a computed format")
        rest = args[1:]
        verbs = re.findall(r"%([-+ 0#]*\d*(?:\.\d+)?)([a-zA-Z%])", fmt)
        used = [v for v in verbs if v[1] != "%"]
        if len(used) != len(rest):
            raise self.fail(line, "printf with mismatched arguments")
        py: list[str] = []
        for (flags, verb), arg in zip(used, rest, strict=True):
            ok = (verb == "s" and arg.type == "str" and "0" not in flags) or (
                verb == "v" and arg.type in ("str", "int") and "0" not in flags
            )
            ok = ok or (verb in "dxXo" and arg.type == "int")
            if not ok or "#" in flags or "." in flags:
                raise self.fail(line, f"printf %{flags}{verb} of a {arg.type}")
            py.append("s" if verb == "v" else verb)
        it = iter(py)
        converted = re.sub(
            r"%([-+ 0#]*\d*(?:\.\d+)?)([a-zA-Z%])",
            lambda m: "%%" if m.group(2) == "%" else "%" + m.group(1) + next(it),
            fmt,
        )
        if not rest:
            return Typed(jinja_string(fmt.replace("%%", "%")), "str")
        texts = ", ".join(a.text for a in rest)
        return Typed(f"{jinja_string(converted)}|format({texts})", "str", False)


def _strftime(layout: str) -> str | None:
    from confpy.golib.time import _next_chunk

    out: list[str] = []
    i = 0
    while i < len(layout):
        chunk, width = _next_chunk(layout, i)
        if chunk is None:
            out.append(layout[i : i + width].replace("%", "%%"))
        elif chunk in _STRFTIME:
            out.append(_STRFTIME[chunk])
        else:
            return None
        i += width
    return "".join(out)
