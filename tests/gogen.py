"""A seeded random generator of confd templates and key trees, for the differential test.

`generate(seed, count)` returns `Case`s: nested ranges, conditionals, variables (declared,
reassigned, shadowed), every confd function and Go builtin, printf verbs and flags,
define/template/block, break/continue, trim markers, comments; key trees with odd keys
and values: spaces, unicode, empty values, numbers, JSON, raw non-UTF-8 bytes. Some
templates are wrong on purpose (bad types, missing keys): both engines must refuse them.
"""

from __future__ import annotations

import json
import random

from tests.confd_diff import Case

_KEYS = [
    "/app/name",
    "/app/port",
    "/app/debug",
    "/app/db/host",
    "/app/db/port",
    "/app/db/user",
    "/svc/a/host",
    "/svc/a/port",
    "/svc/b/host",
    "/svc/b/port",
    "/svc/c/host",
    "/u/s1",
    "/u/s10",
    "/u/s2",
    "/u/x/deep",
    "/r/b1",
    "/r/i5",
    "/r/a2",
    "/sp ace/k ey",
    "/ünï/çødé",
    "/num/1",
    "/num/2",
    "/num/10",
    "/json/obj",
    "/json/arr",
    "/json/nested",
    "/bytes/raw",
    "/empty",
    "/odd/trail/",
    "/odd//dbl",
    "/list/csv",
    "/b64/ok",
    "/b64/raw",
    "/flag/t",
    "/flag/f",
]

_VALUES = [
    "",
    "x",
    "hello world",
    "42",
    "-7",
    "0",
    "3.5",
    " 12",
    "1_000",
    "\u0663",
    "true",
    "TRUE",
    "yes",
    "1",
    "\u01f0 \u0149 \u00df \u0390",
    "Ünïcødé",
    "a,b,c",
    "a/b/c",
    "/abs/path/",
    "tab\there",
    "line1\nline2",
    "quote\"s'",
    "<html>&amp;",
    "9223372036854775807",
    "3037000500",
    "aGVsbG8=",
    "/w==",
    "@@notb64",
    "ǅ ǈ İ",
    "ﬀ ᾳ",
]

_JSON_VALUES = [
    '{"a": 1, "b": "two", "c": [1, 2.5, "x"], "d": {"e": null}, "f": true}',
    '{"name": "svc", "port": 8080, "tags": ["a", "b"], "big": 1e21, "small": 1e-7}',
    '{"x": -0, "y": 123456789, "z": 1.0, "w": 0.000123, "n": null}',
    '{"a": "\\ud800", "b": "\\u00e9", "k y": 1}',
    '[1, "two", 3.5, null, {"a": 1}, [2, 3]]',
    '["b", "a", "c"]',
    "[]",
    "{}",
    "null",
    "[1e400]",
    '{"a": NaN}',
    "not json",
    '{"a": 1} trailing',
]


def _val(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.12:
        return rng.choice(_JSON_VALUES).encode()
    if r < 0.16:
        return rng.choice([b"\xff\xfe", b"caf\xe9", b"\xc3", b"ok\x80ok"])
    if r < 0.25:
        return str(rng.randint(-100, 100000)).encode()
    return rng.choice(_VALUES).encode()


def key_tree(rng: random.Random) -> dict[str, bytes]:
    keys = rng.sample(_KEYS, rng.randint(len(_KEYS) * 2 // 3, len(_KEYS)))
    tree = {k: _val(rng) for k in keys}
    if "/json/obj" in tree and rng.random() < 0.7:
        tree["/json/obj"] = rng.choice(_JSON_VALUES[:4]).encode()
    if "/json/arr" in tree and rng.random() < 0.7:
        tree["/json/arr"] = rng.choice(_JSON_VALUES[4:8]).encode()
    if rng.random() < 0.2:
        for i in range(rng.randint(10, 30)):
            tree[f"/many/k{i}"] = ("v" * rng.randint(0, 4)).encode()
    return tree


_STR_LITS = [
    '"/app/name"',
    '"/u"',
    '"x"',
    '""',
    '"a,b"',
    '","',
    '"/"',
    '"é"',
    "`raw\\n`",
    '"\\xff"',
    '"%d"',
    '"ü"',
    '"/svc"',
    '"  "',
]
_PATHS = [
    '"/app/name"',
    '"/app/port"',
    '"/app/db/host"',
    '"/svc/a/host"',
    '"/u/s1"',
    '"/num/1"',
    '"/json/obj"',
    '"/json/arr"',
    '"/bytes/raw"',
    '"/empty"',
    '"/odd/trail"',
    '"/odd/dbl"',
    '"/sp ace/k ey"',
    '"/ünï/çødé"',
    '"/missing"',
    '"app/name"',
    '"/app/name/"',
    '"/list/csv"',
    '"/b64/ok"',
    '"/b64/raw"',
    '"/flag/t"',
    '"/many/k3"',
]
_DIRS = [
    '"/"',
    '"/app"',
    '"/svc"',
    '"/u"',
    '"/odd"',
    '"/app/db"',
    '"/many"',
    '""',
    '"/nope"',
    '"/svc/"',
    '"/r"',
    '"/json"',
]
_GLOBS = [
    '"/svc/*/host"',
    '"/u/*"',
    '"/r/[!a]*"',
    '"/r/[^a]*"',
    '"/*"',
    '"/app/*"',
    '"/*/*"',
    '"/u/s?"',
    '"/[a-r]*/*"',
    '"/app/[db"',
    '"/many/*"',
    '"/num/*"',
    '"\\\\*"',
]
_B64 = ['"/b64/ok"', '"/b64/raw"']
_JSON_LITS = ['`{"k": [1, 2]}`', '"null"', '`{"a":{"b":null}}`']
_FORMATS = [
    '"%s"',
    '"%v"',
    '"%d"',
    '"%5s|%-5s|"',
    '"%q"',
    '"%x"',
    '"%X"',
    '"%05d"',
    '"% d"',
    '"%+d"',
    '"%8.3f"',
    '"%e"',
    '"%g"',
    '"%t"',
    '"%c"',
    '"%U"',
    '"%#v"',
    '"%+v"',
    '"%T"',
    '"%[2]v %[1]v"',
    '"%v %v"',
    '"%%"',
    '"%.2s"',
    '"%*d"',
    '"%-8v|"',
    '"%#x"',
    '"%o"',
    '"%b"',
    '"%.3x"',
    '"%6.2v"',
    '"%!"',
    '"%d %d"',
    '"%s %s %s"',
]


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vars: list[list[str]] = [["$"]]
        self.nvar = 0
        self.in_range = 0
        self.in_template = 0
        self.defines: list[str] = []
        self.done: list[str] = []
        """Templates whose body is complete: calling only these cannot recurse."""

    def choice(self, seq: list[str]) -> str:
        return self.rng.choice(seq)

    def visible(self) -> list[str]:
        return [v for scope in self.vars for v in scope]

    # Expressions by kind.

    def string(self, d: int) -> str:
        r = self.rng
        opts = [
            lambda: f"getv {self.choice(_PATHS[:6])}",
            lambda: f"getv {self.choice(_PATHS)} {self.choice(_STR_LITS)}",
            lambda: f"getv {self.choice(_PATHS)} {self.choice(_STR_LITS)}",
            lambda: self.choice(_STR_LITS),
            lambda: f"base {self.arg('string', d)}",
            lambda: f"dir {self.arg('string', d)}",
            lambda: f"toUpper {self.arg('string', d)}",
            lambda: f"toLower {self.arg('string', d)}",
            lambda: (
                f"replace {self.arg('string', d)} {self.choice(_STR_LITS)} "
                f"{self.choice(_STR_LITS)} {r.choice(['-1', '1', '0', '2'])}"
            ),
            lambda: f"trimSuffix {self.arg('string', d)} {self.choice(_STR_LITS)}",
            lambda: f"join {self.arg('list', d)} {self.choice(_STR_LITS)}",
            lambda: f"printf {self.choice(_FORMATS)} {self.arg('any', d)}",
            lambda: f"printf {self.choice(_FORMATS)} {self.arg('any', d)} {self.arg('any', d)}",
            lambda: f"print {self.arg('any', d)} {self.arg('any', d)}",
            lambda: f"println {self.arg('any', d)}",
            lambda: f"base64Encode {self.arg('string', d)}",
            lambda: "base64Decode (getv " + self.choice(_B64) + ' "")',
            lambda: f"html {self.arg('any', d)}",
            lambda: f"js {self.arg('any', d)}",
            lambda: f"urlquery {self.arg('any', d)}",
            lambda: f'getenv "HOME_NOT_SET_X" {self.choice(_STR_LITS)}',
            lambda: f"slice {self.arg('string', d)} {r.randint(0, 2)} {r.randint(1, 4)}",
            lambda: f"index {self.arg('string', d)} {r.randint(0, 3)}",
            lambda: f"(get {self.choice(_PATHS)}).Key",
            lambda: f"(get {self.choice(_PATHS)}).Value",
        ]
        return r.choice(opts)()

    def integer(self, d: int) -> str:
        r = self.rng
        op = r.choice(["add", "sub", "mul", "div", "mod"])
        opts = [
            lambda: str(r.choice([0, 1, 2, 3, -1, 7, 42, 3037000500, 9223372036854775807])),
            lambda: f"atoi {self.arg('string', d)}",
            lambda: f"{op} {self.arg('int', d)} {self.arg('int', d)}",
            lambda: f"len {self.arg('any', d)}",
            lambda: r.choice(["'a'", "0x1F", "1_000", "1.0", "017", "-0", "1e3", "0b101"]),
        ]
        return r.choice(opts)()

    def listv(self, d: int) -> str:
        r = self.rng
        opts = [
            lambda: f"ls {self.choice(_DIRS)}",
            lambda: f"lsdir {self.choice(_DIRS)}",
            lambda: f"getvs {self.choice(_GLOBS)}",
            lambda: f"gets {self.choice(_GLOBS)}",
            lambda: f"split {self.arg('string', d)} {self.choice(_STR_LITS)}",
            lambda: f"seq {r.randint(-2, 3)} {r.randint(-1, 6)}",
            lambda: 'jsonArray (getv "/json/arr" "[]")',
            lambda: f"sortByLength {self.arg('list', d)}",
            lambda: f"sortKVByLength (gets {self.choice(_GLOBS)})",
            lambda: f"reverse {self.arg('list', d)}",
            lambda: f"slice {self.arg('list', d)} {r.randint(0, 2)}",
            lambda: 'lookupIPV4 "localhost"',
        ]
        return r.choice(opts)()

    def mapv(self, d: int) -> str:
        r = self.rng
        opts = [
            lambda: 'json (getv "/json/obj" "{}")',
            lambda: f'map "a" {self.arg("any", d)} "b" {self.arg("any", d)}',
            lambda: "json " + r.choice(_JSON_LITS),
        ]
        return r.choice(opts)()

    def boolean(self, d: int) -> str:
        r = self.rng
        cmp_ = r.choice(["eq", "ne", "lt", "le", "gt", "ge"])
        opts = [
            lambda: f"exists {self.choice(_PATHS)}",
            lambda: f"contains {self.arg('string', d)} {self.choice(_STR_LITS)}",
            lambda: f"{cmp_} {self.arg('any', d)} {self.arg('any', d)}",
            lambda: f"eq {self.arg('string', d)} {self.choice(_STR_LITS)} {self.choice(_STR_LITS)}",
            lambda: f"not {self.arg('any', d)}",
            lambda: f"and {self.arg('any', d)} {self.arg('any', d)}",
            lambda: f"or {self.arg('any', d)} {self.arg('any', d)}",
            lambda: f"parseBool {self.arg('string', d)}",
            lambda: r.choice(["true", "false"]),
            lambda: 'fileExists "/etc/hostname"',
        ]
        return r.choice(opts)()

    def anyv(self, d: int) -> str:
        r = self.rng.random()
        if r < 0.3:
            return self.string(d)
        if r < 0.45:
            return self.integer(d)
        if r < 0.65:
            return self.listv(d)
        if r < 0.75:
            return self.mapv(d)
        if r < 0.85:
            return self.boolean(d)
        return self.operand()

    def operand(self) -> str:
        vs = self.visible()
        r = self.rng
        opts = [
            ".",
            "$",
            r.choice(vs),
            r.choice(vs),
            f"{r.choice(vs)}.a",
            ".Key",
            ".Value",
            ".a",
            ".a.b",
            ".name",
            r.choice(["nil", "1+7i", "2.5", "-0", "0x10", "'x'"]),
        ]
        return r.choice(opts)

    def arg(self, kind: str, d: int) -> str:
        """An argument: a simple operand or a parenthesised pipeline of the kind."""
        r = self.rng
        if d > 2 or r.random() < 0.25:
            if kind == "string":
                return r.choice(_STR_LITS + _PATHS[:3] + [".", ".Key", ".Value"])
            if kind == "int":
                return r.choice(["1", "2", "0", "-3", "10", '"5"', "."])
            if kind == "list":
                return r.choice([f"(ls {self.choice(_DIRS)})", "(seq 1 3)", "."])
            return self.operand()
        inner = {"string": self.string, "int": self.integer, "list": self.listv, "any": self.anyv}[
            kind
        ](d + 1)
        return f"({inner})"

    def pipeline(self, d: int = 0) -> str:
        r = self.rng
        base = self.anyv(d)
        if r.random() < 0.15:
            base += " | " + r.choice(
                [
                    'printf "<%v>"',
                    "len",
                    "toUpper",
                    "print",
                    "html",
                    "js",
                    "urlquery",
                    "not",
                    "base",
                    'printf "%s=%d" "k"',
                    "reverse",
                    "json",
                ]
            )
        return base

    # Statements.

    def ws(self, s: str) -> str:
        r = self.rng.random()
        if r < 0.1:
            return "{{- " + s + " -}}"
        if r < 0.15:
            return "{{- " + s + "}}"
        if r < 0.2:
            return "{{" + s + " -}}"
        return "{{" + s + "}}"

    def text(self) -> str:
        return self.rng.choice(
            ["\n", " ", "a=", "\n  ", "; ", "{ ", "}", "\t", "ü", "\r\n", "-", "x\n\n", ""]
        )

    def stmts(self, d: int, n: int | None = None) -> str:
        n = self.rng.randint(1, 4) if n is None else n
        return "".join(self.stmt(d) for _ in range(n))

    def stmt(self, d: int) -> str:
        r = self.rng
        x = r.random()
        if d >= 3:
            x = x * 0.5
        if x < 0.2:
            return self.text()
        if x < 0.45:
            return self.ws(self.pipeline()) + self.text()
        if x < 0.52:
            self.nvar += 1
            name = r.choice([f"$v{self.nvar}", f"$ü{self.nvar}", f"$x{self.nvar}"])
            out = self.ws(f"{name} := {self.pipeline()}")
            self.vars[-1].append(name)
            return out + self.ws(name)
        if x < 0.56 and len(self.visible()) > 1:
            name = r.choice(self.visible()[1:])
            return self.ws(f"{name} = {self.pipeline()}")
        if x < 0.58:
            return "{{/* comment */}}" if r.random() < 0.5 else "{{- /* c */ -}}"
        if x < 0.6 and self.in_range:
            return self.ws(r.choice(["break", "continue"]))
        if x < 0.66 and d < 4:
            return self.if_block(d)
        if x < 0.82 and d < 4:
            return self.range_block(d)
        if x < 0.9 and d < 4:
            return self.with_block(d)
        if x < 0.94:
            name = f"t{len(self.defines)}"
            self.defines.append(name)
            body = self.sub_template(d)
            self.done.append(name)
            return f'{{{{block "{name}" {self.arg("any", 2)}}}}}{body}{{{{end}}}}'
        if x < 0.97 and self.done and not self.in_template:
            return self.ws(f'template "{r.choice(self.done)}" {self.arg("any", 2)}')
        return self.ws(self.pipeline())

    def sub_template(self, d: int) -> str:
        saved, saved_range = self.vars, self.in_range
        self.vars, self.in_range = [["$"]], 0
        self.in_template += 1
        body = self.stmts(d + 1, 2)
        self.in_template -= 1
        self.vars, self.in_range = saved, saved_range
        return body

    def scoped(self, d: int, decls: list[str], *, loop: bool = False) -> str:
        self.vars.append(list(decls))
        self.in_range += loop
        body = self.stmts(d + 1)
        self.in_range -= loop
        self.vars.pop()
        return body

    def if_block(self, d: int) -> str:
        r = self.rng
        cond = self.boolean(0) if r.random() < 0.7 else self.pipeline()
        out = self.ws(f"if {cond}") + self.scoped(d, [])
        if r.random() < 0.3:
            out += self.ws(f"else if {self.boolean(0)}") + self.scoped(d, [])
        if r.random() < 0.4:
            out += self.ws("else") + self.scoped(d, [])
        return out + self.ws("end")

    def range_block(self, d: int) -> str:
        r = self.rng
        src = r.choice(
            [self.listv(0), self.listv(0), self.listv(0), self.mapv(0), self.mapv(0), self.anyv(1)]
        )
        self.nvar += 1
        decls: list[str] = []
        form = r.random()
        if form < 0.3:
            decls = [f"$i{self.nvar}", f"$e{self.nvar}"]
            head = f"range {decls[0]}, {decls[1]} := {src}"
        elif form < 0.5:
            decls = [f"$e{self.nvar}"]
            head = f"range {decls[0]} := {src}"
        else:
            head = f"range {src}"
        out = self.ws(head)
        self.vars.append(list(decls))
        self.in_range += 1
        out += self.stmts(d + 1)
        self.in_range -= 1
        if r.random() < 0.3:
            self.vars[-1] = list(decls)
            out += self.ws("else") + self.stmts(d + 1, 1)
        self.vars.pop()
        return out + self.ws("end")

    def with_block(self, d: int) -> str:
        r = self.rng
        src = r.choice([self.string(0), self.mapv(0), self.listv(0), f"get {self.choice(_PATHS)}"])
        out = self.ws(f"with {src}") + self.scoped(d, [])
        if r.random() < 0.3:
            out += self.ws("else") + self.scoped(d, [])
        return out + self.ws("end")


def template(rng: random.Random) -> str:
    g = _Gen(rng)
    body = g.stmts(0, rng.randint(1, 5))
    if rng.random() < 0.1:
        body = '{{define "d"}}D{{.}}{{end}}' + body + '{{template "d" ' + g.arg("any", 2) + "}}"
    return body


def generate(seed: int, count: int) -> list[Case]:
    """`count` random cases, the same for the same seed."""
    rng = random.Random(seed)
    return [Case(f"s{seed}-{i}", template(rng), key_tree(rng)) for i in range(count)]


def docs_cases() -> list[Case]:
    """confd's documentation examples (docs/templates.md, quick-start), with their keys."""
    services = {
        "/services/web/cust1/2": b'{"IP":"10.0.0.2"}',
        "/services/web/cust2/1": b'{"IP":"10.0.0.3"}',
        "/services/web/cust1/1": b'{"IP":"10.0.0.1"}',
    }
    kv = {
        "/myapp/database/url": b"db.example.com",
        "/myapp/database/user": b"rob",
        "/key": b"value",
        "/upstreams/app1": b"10.0.1.10:80",
        "/upstreams/app2": b"10.0.1.11:80",
        "/test/data": b'{"animals": [{"type": "dog", '
        b'"name": "Fido"}, {"type": "cat", "name": "Misse"}]}',
        "/test/array": b'["a", "b", "c"]',
        "/nginx/nginx": b"nginx.conf",
        "/app/servers/s1": b"1.1.1.1",
        "/app/servers/s2": b"2.2.2.2",
        "/myapp/upstream/app1": b"10.0.1.100:80",
        "/myapp/upstream/app2": b"10.0.1.101:80",
        "/myapp/subdomain": b"myapp",
        **services,
    }
    docs = [
        '{{getv "/myapp/database/url"}}\n{{getv "/myapp/database/user"}}\n',
        '[myconfig]\ndatabase_url = {{getv "/myapp/database/url"}}\n'
        'database_user = {{getv "/myapp/database/user"}}\n',
        '{{map "key" "value" "x" 1}}',
        '{{$endpoint := map "name" "elasticsearch" "private_port" 9200 "public_port" 443}}\n'
        'name: {{index $endpoint "name"}}\nprivate-port: {{index $endpoint "private_port"}}\n'
        'public-port: {{index $endpoint "public_port"}}\n',
        '{{with get "/key"}}\n    key: {{base .Key}}\n    value: {{.Value}}\n{{end}}\n',
        '{{range gets "/*"}}\n    key: {{.Key}}\n    value: {{.Value}}\n{{end}}\n',
        'value: {{getv "/key"}}\nvalue: {{getv "/nokey" "default_value"}}\n',
        '{{range getvs "/*"}}\n    value: {{.}}\n{{end}}\n',
        '{{range ls "/upstreams"}}\n   value: {{.}}\n{{end}}\n',
        '{{range lsdir "/services/web"}}\n   value: {{.}}\n{{end}}\n',
        '{{if exists "/key"}}\n    value: {{getv "/key"}}\n{{end}}\n',
        '{{with dir "/services/data/url"}}\n    dir: {{.}}\n{{end}}\n',
        '{{ $url := getv "/myapp/database/url" }}\n{{ $split := split $url "." }}\n'
        "first: {{index $split 0}}\n",
        '{{$data := json (getv "/test/data")}}\ntype: {{ (index $data.animals 1).type }}\n'
        "name: {{ (index $data.animals 1).name }}\n{{range $data.animals}}\n{{.name}}\n{{end}}\n",
        '{{range $index, $element := jsonArray (getv "/test/array")}}\n'
        "index: {{$index}}\nvalue: {{$element}}\n{{end}}\n",
        "{{ seq 1 3 }}{{range seq 1 3}}x{{.}}{{end}}",
        '{{range $server := getvs "/app/servers/*"}}\n{{$server}}\n{{end}}\n',
        '{{ $url := getv "/nginx/nginx" }}\n{{if contains $url "nginx"}}yes{{end}}\n',
        '{{ replace "a.b.c" "." "-" -1 }} {{ trimSuffix "a.conf" ".conf" }} '
        '{{ base64Encode "hello" }} {{ base64Decode "aGVsbG8=" }} {{ toUpper "x" }} '
        '{{ toLower "X" }} {{ atoi "12" }} {{ add 1 2 }} {{ sub 3 1 }} {{ div 7 2 }} '
        '{{ mod 7 2 }} {{ mul 3 4 }} {{ parseBool "true" }}',
        '{{ join (getvs "/app/servers/*") "," }} {{ reverse (getvs "/app/servers/*") }}',
        '{{range sortByLength (ls "/upstreams")}}{{.}} {{end}}'
        '{{range sortKVByLength (gets "/upstreams/*")}}{{.Key}} {{end}}',
        'upstream {{getv "/myapp/subdomain"}} {\n{{range getvs "/myapp/upstream/*"}}'
        "    server {{.}};\n{{end}}\n}\n\nserver {\n    server_name  "
        '{{getv "/myapp/subdomain"}}.example.com;\n    location / {\n        proxy_pass'
        '        http://{{getv "/myapp/subdomain"}};\n    }\n}\n',
        '{{range $dir := lsdir "/services/web"}}\nupstream {{base $dir}} {\n'
        '    {{$custdir := printf "/services/web/%s/*" $dir}}{{range gets $custdir}}\n'
        "    server {{$data := json .Value}}{{$data.IP}}:80;\n    {{end}}\n}\n\n"
        "server {\n    server_name {{base $dir}}.example.com;\n    location / {\n"
        "        proxy_pass {{base $dir}};\n    }\n}\n{{end}}\n",
        '{{datetime.Year | printf "%T"}}',
    ]
    return [Case(f"doc{i}", t, dict(kv)) for i, t in enumerate(docs)]


__all__ = ["Case", "docs_cases", "generate", "json"]
