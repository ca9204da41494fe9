"""The maintained confd fork's functions (abtreece/confd) in the Go engine: its semantics,
and text/template's one-line errors for wrong types and argument counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.errors import ConfpyError, MissingKeyError, RenderError
from confpy.gotemplate.engine import GoTemplate
from confpy.gotemplate.forkfuncs import SIGNATURES


def render(source: str, view: dict[str, str] | None = None, base: Path | None = None) -> str:
    filename = str((base or Path("/nonexistent")) / "t.tmpl")
    return GoTemplate.compile(source, filename).render(view or {"/a": "1"}).decode()


CASES = [
    ('{{default "x" ""}} {{default "x" "y"}} {{"" | default "z"}} {{default 5 0}}', "x y z 5"),
    ('{{default "d" .missing}} {{default "d" (list)}} {{default "d" false}}', "d d d"),
    ('{{ternary "a" "b" true}} {{false | ternary "a" "b"}}', "a b"),
    ('{{coalesce "" 0 "c" "d"}} {{coalesce "" 0}}', "c <no value>"),
    (
        '{{empty ""}} {{empty 0}} {{empty (dict)}} {{empty "x"}} {{empty (get "/a")}}',
        "true true true false false",
    ),
    ('{{$d := dict "b" 1 "a" 2}}{{$d.a}} {{hasKey $d "b"}} {{hasKey $d "c"}}', "2 true false"),
    ('{{keys (dict "b" 1 "a" 2)}} {{values (dict "b" 1 "a" 2)}}', "[a b] [2 1]"),
    ('{{list 1 "a" nil}} {{len (list)}} {{append (list 1) 2}}', "[1 a <nil>] 0 [1 2]"),
    ('{{pluck "a" (dict "a" 1) (dict "b" 2) (dict "a" 3)}}', "[1 3]"),
    (
        '{{toJson (dict "b" 1 "a" (list 1 "<&>" nil 2.5 true))}}',
        '{"a":[1,"\\u003c\\u0026\\u003e",null,2.5,true],"b":1}',
    ),
    (
        '{{toJson (get "/a")}} {{toJson (getvs "/*")}} {{toJson "é\\u2028"}}',
        '{"Key":"/a","Value":"1"} ["1"] "é\\u2028"',
    ),
    ("{{toJson 1e-7}} {{toJson 1e21}} {{toJson 100.0}} {{toJson (list)}}", "1e-7 1e+21 100 null"),
    ('{{toPrettyJson (dict "a" (list 1) "e" (dict))}}', '{\n  "a": [\n    1\n  ],\n  "e": {}\n}'),
    (
        '{{$v := fromJson "{\\"a\\": [1, null]}"}}{{$v.a}} {{fromJson "null"}} {{fromJson "2"}}',
        "[1 <nil>] <no value> 2",
    ),
    (
        '{{indent 2 "a\\nb"}}|{{nindent 1 "x"}}|{{indent -3 "y"}}|{{indent 4 ""}}',
        "  a\n  b|\n x|y|",
    ),
    ('{{quote "a\\"b\\n"}} {{squote "it\'s"}}', "\"a\\\"b\\n\" 'it''s'"),
    (
        '{{regexMatch "^a.c$" "abc"}} {{regexMatch "^a$" "a\\n"}} {{regexMatch "\\\\d" "٣"}}',
        "true false false",
    ),
    ('{{regexFind "[0-9]+" "ab123cd45"}}|{{regexFind "z" "abc"}}', "123|"),
    (
        '{{regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"}} {{regexReplaceAll "a(x*)b" "-axb-" "$1W"}}',
        "-W-xxW- --",
    ),
    (
        '{{regexReplaceAll "(?P<n>\\\\d)" "a1b2" "<$n>"}} {{regexReplaceAll "b" "abc" "$$"}}',
        "a<1>b<2> a$c",
    ),
    ('{{regexMatch "(a+)+$" "aaaa"}} {{regexMatch "(a|aa)+c" "aab"}}', "true false"),
    ('{{regexReplaceAll "x*" "abxd" "-"}} {{regexReplaceAll "a*" "baaac" "-"}}', "-a-b-d- -b-c-"),
    ('{{regexReplaceAll "(b)" "abc" "\\\\1$9"}}', "a\\1c"),
    ('{{trimPrefix "foobar" "foo"}} {{trimPrefix "foobar" "bar"}}', "bar foobar"),
    ('{{repeat 3 "ab"}}|{{repeat 0 "x"}}|{{repeat -1 "x"}}', "ababab||"),
    ('{{nospace " a\\tb\\u00a0c\\u3000 "}}', "abc"),
    ('{{snakecase "HTTPServerName"}} {{snakecase "my-var name"}}', "http_server_name my_var_name"),
    ('{{camelcase "http_server-name"}} {{camelcase "XMLHttp"}}', "httpServerName xmlHttp"),
    ('{{kebabcase "myVarName"}} {{kebabcase "ÉtéÀ"}}', "my-var-name été-à"),
    ('{{sha256sum ""}}', "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (
        '{{lookupIfaceIPV4 "lo"}}|{{lookupIfaceIPV4 "no-such-if0"}}|{{lookupIfaceIPV6 "no-such-if0"}}',
        "127.0.0.1||",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_fork_function_renders_as_the_fork_does(source: str, expected: str) -> None:
    """Each fork function gives abtreece/confd's result (its utility_funcs.go and tests)."""
    assert render(source) == expected


ERRORS = [
    ("{{default 1}}", "wrong number of args for default: want 2 got 1"),
    ('{{ternary 1 2 "yes"}}', "expected bool; found a string"),
    ('{{hasKey "x" "a"}}', "expected map[string]interface {}; found a string"),
    ('{{append (split "a,b" ",") "c"}}', "expected []interface {}; got []string"),
    ('{{indent "x" "y"}}', "expected integer; found a string"),
    ("{{repeat 3}}", "wrong number of args for repeat: want 2 got 1"),
    ('{{dict "a"}}', "error calling dict: invalid map call"),
    ("{{dict 1 2}}", "error calling dict: map keys must be strings"),
    ('{{fromJson "{"}}', "error calling fromJson: unexpected end of JSON input"),
    ('{{fromJson "[1,]"}}', "error calling fromJson: invalid character at offset 3"),
    ("{{toJson (list 1i)}}", "error calling toJson: json: unsupported type: complex128"),
    ('{{regexMatch "(" "x"}}', "error calling regexMatch: error parsing regexp:"),
    ('{{regexMatch "(a)\\\\1" "aa"}}', "invalid escape sequence"),
    ('{{regexFind "(?=a)" "a"}}', "invalid or unsupported Perl syntax"),
    ('{{regexMatch "a++" "aa"}}', "error parsing regexp: invalid nested repetition operator"),
    ('{{repeat 100000000 "ab"}}', "error calling repeat: repeat: result larger than"),
    ("{{pluck 1}}", "expected string; found a number"),
]


@pytest.mark.parametrize(("source", "message"), ERRORS)
def test_fork_function_misuse_is_one_go_style_line(source: str, message: str) -> None:
    """Wrong types, argument counts and values fail with text/template's one-line error."""
    with pytest.raises(RenderError) as e:
        render(source)
    text = str(e.value)
    assert message in text and "\n" not in text and "Traceback" not in text


def test_every_fork_function_is_tested() -> None:
    """The tables above call every function of the fork but `include` (tested below)."""
    sources = " ".join(s for s, _ in CASES)
    assert {n for n in SIGNATURES if n != "include" and n + " " not in sources} == set()


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "h.tmpl").write_text('H[{{.}}]{{getv "/a"}}')
    (tmp_path / "partials" / "miss.tmpl").write_text('{{getv "/missing"}}')
    (tmp_path / "self.tmpl").write_text('{{include "self.tmpl"}}')
    (tmp_path / "bad.tmpl").write_text("{{if}}")
    for i in range(12):
        (tmp_path / f"d{i}.tmpl").write_text(f'{i}{{{{include "d{i + 1}.tmpl"}}}}')
    (tmp_path / "d12.tmpl").write_text("end")
    return tmp_path


def test_include_renders_a_template_of_the_directory_with_data(templates: Path) -> None:
    """`include` renders another template with the same functions and keys, `data` as dot."""
    out = render(
        '{{include "partials/h.tmpl" "dot"}} {{include "partials/h.tmpl"}}', base=templates
    )
    assert out == "H[dot]1 H[<no value>]1"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{include "../x.tmpl"}}', 'include path "../x.tmpl" is outside template directory'),
        ('{{include "partials/../../x"}}', "is outside template directory"),
        ('{{include "."}}', "is outside template directory"),
        ('{{include "self.tmpl"}}', "include cycle detected: self.tmpl"),
        ('{{include "d0.tmpl"}}', "maximum include depth (10) exceeded"),
        ('{{include "nope.tmpl"}}', "include nope.tmpl: No such file or directory"),
        ('{{include "bad.tmpl"}}', "parse include bad.tmpl:"),
        ("{{include}}", "wrong number of args for include: want at least 1 got 0"),
        ('{{include "a\\x00b"}}', 'include "a\\x00b": no such file or directory'),
        ('{{include "/etc/passwd"}}', "include /etc/passwd: No such file or directory"),
    ],
)
def test_include_refuses_escapes_cycles_depth_and_bad_templates(
    templates: Path, source: str, message: str
) -> None:
    """The fork's refusals, each one line naming the include."""
    with pytest.raises(RenderError) as e:
        render(source, base=templates)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_missing_key_inside_an_include_is_a_missing_key(templates: Path) -> None:
    """`getv` of a missing key in an included template fails as in the including one."""
    with pytest.raises(MissingKeyError, match="/missing"):
        render('{{include "partials/miss.tmpl"}}', base=templates)


@given(st.integers(-5, 40), st.text(max_size=60))
def test_indent_pads_every_line(spaces: int, text: str) -> None:
    """indent: every line gets the same pad; removing it gives the text back; nindent adds
    one newline before."""
    from confpy.functions import fork_strings as forkstrings
    from confpy.gotemplate.forkfuncs import nindent

    pad = " " * max(spaces, 0)
    got = forkstrings.indent(spaces, text)
    assert nindent(spaces, text) == "\n" + got
    if text == "":
        assert got == ""
    else:
        assert all(line.startswith(pad) for line in got.split("\n"))
        assert "\n".join(line[len(pad) :] for line in got.split("\n")) == text


def test_regex_functions_keep_a_values_undecodable_bytes() -> None:
    """A value with bytes that are not UTF-8 (kept as surrogate escapes) is matched and
    replaced around, its bytes intact, as Go's regexp on the raw string does."""
    view = {"/s": "a\udcffb\udcfe"}
    assert render('{{regexFind "b" (getv "/s")}}', view) == "b"
    source = '{{regexReplaceAll "b" (getv "/s") "<$0>"}}'
    assert GoTemplate.compile(source, "/nonexistent/t").render(view) == b"a\xff<b>\xfe"


def test_a_refused_pattern_is_gos_reason_without_the_patterns_text() -> None:
    """RE2's refusal is Go's one line; the pattern (which may come from a value) is not in it."""
    with pytest.raises(RenderError) as caught:
        render('{{regexMatch (getv "/p") "x"}}', {"/p": "secret(?<=x)"})
    assert "invalid or unsupported Perl syntax" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert "\n" not in str(caught.value)


@given(st.text(max_size=30), st.text(max_size=60))
def test_regex_functions_never_raise_anything_but_a_render_error(pattern: str, s: str) -> None:
    """Any pattern and input: a result, or one RenderError line, never a Python exception."""
    view = {"/p": pattern, "/s": s}
    for call in ("regexMatch", "regexFind", "regexReplaceAll"):
        extra = ' "$1"' if call == "regexReplaceAll" else ""
        try:
            render(f'{{{{{call} (getv "/p") (getv "/s"){extra}}}}}', view)
        except ConfpyError as e:
            assert "\n" not in str(e)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=20,
    )
)
def test_from_json_of_to_json_round_trips(value: object) -> None:
    """toJson writes JSON Python reads back as the same value (numbers as Go's float64)."""
    import json

    from confpy.gotemplate.forkfuncs import to_json

    def floats(v: object) -> object:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int):
            return float(v)
        if isinstance(v, list):
            return [floats(x) for x in v]
        assert isinstance(v, dict)
        return {k: floats(x) for k, x in v.items()}

    text = to_json(value)
    assert json.loads(text, parse_int=float) == floats(json.loads(json.dumps(value)))


@given(st.text(max_size=200))
def test_from_json_of_any_text_is_a_value_or_one_line(text: str) -> None:
    """fromJson of any text: a value, or one RenderError line without Python's words."""
    try:
        render('{{fromJson (getv "/j") | printf "%v"}}', {"/j": text})
    except RenderError as e:
        assert "\n" not in str(e) and "Expecting" not in str(e)


def test_from_json_of_a_hostile_value_is_bounded() -> None:
    """Deep nesting and huge input are refused with one line, not a RecursionError."""
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(RenderError, match="error calling fromJson"):
        render('{{fromJson (getv "/d")}}', {"/d": deep})


def test_include_of_a_template_in_a_subdirectory_is_from_the_templates_directory(
    tmp_path: Path,
) -> None:
    """A resource whose src is `sub/site.tmpl` includes `partials/h.tmpl` from the
    templates directory, as the fork resolves it (not from `sub/`)."""
    from confpy.config.resource import load_resource
    from confpy.render.templates import TemplateSet
    from confpy.store.snapshot import Snapshot

    templates = tmp_path / "templates"
    (templates / "sub").mkdir(parents=True)
    (templates / "partials").mkdir()
    (templates / "partials" / "h.tmpl").write_text("header")
    (templates / "sub" / "site.tmpl").write_text('{{include "partials/h.tmpl"}}!')
    (tmp_path / "conf.d").mkdir()
    toml = tmp_path / "conf.d" / "site.toml"
    toml.write_text('[template]\nsrc = "sub/site.tmpl"\ndest = "/tmp/site.out"\nkeys = ["/"]\n')
    resource = load_resource(toml, templates)
    loaded, errors = TemplateSet.load(templates, [resource])
    assert errors == []
    assert loaded.render(resource, Snapshot(1, {})) == b"header!"
