"""Go function calls and time methods as typed Jinja expressions, or a refusal.

`CallTranslator` knows what each of confd's and Go's functions returns and which
argument kinds its plain-Jinja spelling handles exactly; it refuses the rest with
`NotReadable`. `jinjaexpr` builds pipelines and operands on top of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confpy.errors import TemplateSyntaxError
from confpy.gotemplate.jinjatext import jinja_string
from confpy.gotemplate.parsenodes import Ident
from confpy.gotemplate.unquote import go_unquote

_STR_FUNCS = {
    "getv",
    "base",
    "dir",
    "replace",
    "base64Encode",
    "base64Decode",
    "getenv",
    "toUpper",
    "toLower",
    "trimSuffix",
    "join",
    "printf",
    "print",
    "println",
    "html",
    "js",
    "urlquery",
}
_RETURNS: dict[str, str] = {
    **{f: "str" for f in _STR_FUNCS},
    "getvs": "list:str",
    "ls": "list:str",
    "lsdir": "list:str",
    "split": "list:str",
    "sortByLength": "list:str",
    "lookupIP": "list:str",
    "lookupIPV4": "list:str",
    "lookupIPV6": "list:str",
    "gets": "list:kv",
    "sortKVByLength": "list:kv",
    "get": "kv",
    "lookupSRV": "list:srv",
    "exists": "bool",
    "fileExists": "bool",
    "contains": "bool",
    "parseBool": "bool",
    "eq": "bool",
    "ne": "bool",
    "lt": "bool",
    "le": "bool",
    "gt": "bool",
    "ge": "bool",
    "not": "bool",
    "json": "map:any",
    "map": "map:any",
    "jsonArray": "list:any",
    "atoi": "int",
    "add": "int",
    "sub": "int",
    "mul": "int",
    "div": "int",
    "mod": "int",
    "len": "int",
    "seq": "list:int",
    "datetime": "time",
}
# Go layout elements with an exact strftime equivalent (glibc's %-d drops the padding).
_STRFTIME = {
    "January": "%B",
    "Jan": "%b",
    "Monday": "%A",
    "Mon": "%a",
    "MST": "%Z",
    "2006": "%Y",
    "06": "%y",
    "01": "%m",
    "1": "%-m",
    "02": "%d",
    "2": "%-d",
    "15": "%H",
    "03": "%I",
    "3": "%-I",
    "04": "%M",
    "4": "%-M",
    "05": "%S",
    "5": "%-S",
    "PM": "%p",
    "-0700": "%z",
    "002": "%j",
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


class CallTranslator:
    """Translates function calls and methods; `filename` names the template in errors."""

    filename: str

    def error(self, line: int, col: int, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"column {col}: {message}", file=self.filename, line=line)

    def fail(self, line: int, what: str) -> NotReadable:
        return NotReadable(
            f"{what} has no exact plain-Jinja form; keep the .tmpl (confpy runs it as is)",
            file=self.filename,
            line=line,
        )

    # Calls.

    def rmethod(self, base: Typed, name: str, args: list[Typed], line: int) -> Typed:
        if base.type == "time" and name == "Format" and len(args) == 1:
            layout = args[0].text
            if args[0].type != "str" or not layout.startswith('"'):
                raise self.fail(line, "Format with a computed layout")
            fmt = _strftime(go_unquote(layout))
            if fmt is None:
                raise self.fail(line, f"time layout {layout}")
            return Typed(f"{base.text}.strftime({jinja_string(fmt)})", "str")
        if base.type == "time" and name in ("Year", "Day", "Hour", "Minute", "Second") and not args:
            return Typed(f"{base.text}.{name.lower()}", "int")
        raise self.fail(line, f"method .{name}")

    def rcall(self, ident: Ident, args: list[Typed], line: int) -> Typed:
        name = ident.name
        if name not in ("and", "or", "not", "print", "printf", "println") and any(
            a.type == "none" for a in args
        ):
            raise self.fail(line, f"{name} of nil (Go refuses or prints it its own way)")
        texts = [a.text if a.atomic else f"({a.text})" for a in args]
        if name in ("and", "or"):
            if not args:
                raise self.error(ident.line, ident.col, f"wrong number of args for {name}")
            types = {a.type for a in args}
            return Typed(f" {name} ".join(texts), types.pop() if len(types) == 1 else "any", False)
        if name == "not":
            return Typed(f"not {texts[0]}", "bool", False)
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return self.rcompare(name, args, texts, line)
        if name == "len":
            if args[0].type == "str":
                return Typed(f'{texts[0]}.encode("utf-8")|length', "int", False)
            return Typed(f"{texts[0]}|length", "int", False)
        if name == "index":
            return self.rindex(args, texts, line)
        if name == "printf":
            return self.rprintf(args, line)
        if name == "print" and all(a.type in ("str", "int") for a in args):
            parts: list[str] = []
            for i, a in enumerate(args):
                if i and a.type != "str" and args[i - 1].type != "str":
                    parts.append('" "')
                parts.append(texts[i])
            return Typed(" ~ ".join(parts) or '""', "str", len(parts) == 1)
        if name in ("print", "println", "html", "js", "urlquery", "slice", "call"):
            raise self.fail(line, name)
        self.refuse_untranslatable(name, args, line)
        if name == "reverse":
            return Typed(f"{name}({', '.join(texts)})", args[0].type)
        return Typed(f"{name}({', '.join(texts)})", _RETURNS.get(name, "any"))

    def rcompare(self, name: str, args: list[Typed], texts: list[str], line: int) -> Typed:
        known = {a.type for a in args} & {"str", "int", "float", "bool"}
        if len(known) > 1 or (name != "eq" and "bool" in known):
            raise self.fail(line, f"{name} of values of different kinds (an error in Go)")
        op = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[name]
        if name == "eq" and len(texts) > 2:
            return Typed(" or ".join(f"{texts[0]} == {t}" for t in texts[1:]), "bool", False)
        return Typed(f"{texts[0]} {op} {texts[1]}", "bool", False)

    def rindex(self, args: list[Typed], texts: list[str], line: int) -> Typed:
        if args[0].type == "str":
            raise self.fail(line, "index of a string (Go gives a byte)")
        out = args[0]
        for idx in texts[1:]:
            elem = out.type.split(":", 1)[1] if ":" in out.type else "any"
            if out.type.startswith("map:"):
                out = Typed(f"{out.text}.get({idx})", elem)
            elif idx.startswith("(-"):
                raise self.fail(line, "index with a negative number (an error in Go)")
            elif out.type.startswith("list:"):
                out = Typed(f"{out.text}[{idx}]", elem)
            elif idx.startswith('"'):
                out = Typed(f"{out.text}.get({idx})", "any")
            elif idx.lstrip("(-").rstrip(")").isdigit():
                out = Typed(f"{out.text}[{idx}]", "any")
            else:
                raise self.fail(line, "index of a value of unknown kind")
        return out

    def refuse_untranslatable(self, name: str, args: list[Typed], line: int) -> None:
        """Calls whose Go behaviour depends on argument kinds convert cannot know: refused."""
        if name == "sortByLength" and [a.type for a in args] != ["list:str"]:
            raise self.fail(line, "sortByLength of anything but a list of strings")
        if name == "sortKVByLength" and [a.type for a in args] != ["list:kv"]:
            raise self.fail(line, "sortKVByLength of anything but a list of key-value pairs")
        if name == "join" and [a.type for a in args] != ["list:str", "str"]:
            raise self.fail(line, "join of anything but a list of strings and a string")
        if name == "reverse" and (not args or args[0].type != "list:str"):
            raise self.fail(line, "reverse of anything but a list of strings")
        if name in ("add", "sub", "mul", "div", "mod", "seq") and any(
            a.type != "int" for a in args
        ):
            raise self.fail(line, f"{name} of a value that is not known to be an integer")

    def rprintf(self, args: list[Typed], line: int) -> Typed:
        if not args or args[0].type != "str" or not args[0].text.startswith('"'):
            raise self.fail(line, "printf with a computed format")
        fmt = go_unquote(args[0].text)
        rest = args[1:]
        verbs = re.findall(r"%([-+ 0#]*\d*(?:\.\d+)?)([a-zA-Z%])", fmt)
        used = [v for v in verbs if v[1] != "%"]
        if len(used) != len(rest):
            raise self.fail(line, "printf with mismatched arguments")
        py: list[str] = []
        for (flags, verb), arg in zip(used, rest, strict=True):
            ok = (verb in "sv" and arg.type in ("str", "int")) or (
                verb in "dxXo" and arg.type == "int"
            )
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
        texts = [a.text if a.atomic else f"({a.text})" for a in rest]
        return Typed(f"{jinja_string(converted)}|format({', '.join(texts)})", "str", False)


def _strftime(layout: str) -> str | None:
    from confpy.gotemplate.builtins import _next_chunk

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
