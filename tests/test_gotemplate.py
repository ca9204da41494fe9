"""confd's Go templates run unchanged: translated to Jinja2, they render what Go renders.

The corpus under tests/gocorpus/ holds one directory per case: `template.tmpl`,
`keys.json` (`{"prefix": ..., "keys": {absolute key: value}}`) and `expected.out`, the
bytes Go's text/template printed with confd's functions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from confpy import funcs
from confpy.errors import MissingKeyError, RenderError, TemplateSyntaxError
from confpy.gotemplate import GO_GLOBALS, translate
from confpy.gotemplate.builtins import go_sprintf, go_time_format, go_value
from confpy.templates import make_environment
from tests.helpers import render_resource

CORPUS = Path(__file__).parent / "gocorpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "template.tmpl").is_file())

def load_case(name: str) -> tuple[str, dict[str, str], str, bytes]:
    d = CORPUS / name
    keys = json.loads((d / "keys.json").read_text())
    source = (d / "template.tmpl").read_bytes().decode("utf-8")
    return source, keys["keys"], keys["prefix"], (d / "expected.out").read_bytes()


def render_go(tmp_path: Path, source: str, keys: dict[str, str], prefix: str = "") -> bytes:
    """Render a Go template the way confpy does: a resource, a TemplateSet, a snapshot."""
    return render_resource(tmp_path, "t.tmpl", source, keys, prefix, syntax="go")


def render_source(jinja_source: str, view: dict[str, str]) -> str:
    """Render translated source directly (bypassing the file loader)."""
    env = make_environment(Path("."), go_names=["x.tmpl"])
    return env.from_string(jinja_source).render(funcs.KeyFunctions(view).functions())


def corpus_params() -> list[object]:
    return list(CASES)


# The corpus.


def test_corpus_is_broad() -> None:
    """The corpus covers confd's documented examples and every construct, one case each."""
    assert len(CASES) >= 40
    assert all((CORPUS / c / "expected.out").is_file() for c in CASES)


@pytest.mark.parametrize("case", corpus_params())
def test_corpus_case_renders_bytes_go_renders(case: str, tmp_path: Path) -> None:
    """Each corpus template, run through the engine, prints exactly Go's bytes."""
    source, keys, prefix, expected = load_case(case)
    assert render_go(tmp_path, source, keys, prefix) == expected


@pytest.mark.parametrize("case", CASES)
def test_translation_keeps_every_line_on_its_line(case: str) -> None:
    """The Jinja source has as many lines as the Go source, so error lines point at Go's."""
    source, *_ = load_case(case)
    assert translate(source).count("\n") == source.count("\n")


def test_translation_keeps_carriage_returns() -> None:
    """CRLF line ends in the template survive (Jinja would normalise them to LF)."""
    source, keys, _, expected = load_case("crlf_text")
    assert render_source(translate(source), keys).encode() == expected


# Semantics worth naming on their own.


def test_piped_value_becomes_the_last_argument(tmp_path: Path) -> None:
    """`x | f a` calls f(a, x), as Go does."""
    out = render_go(tmp_path, '{{ "b" | printf "%s-%s" "a" }}', {})
    assert out == b"a-b"


def test_variable_assigned_in_range_keeps_value_after_loop(tmp_path: Path) -> None:
    """`$x = ...` inside range changes the outer `$x` (Jinja's set alone would not)."""
    src = '{{$n := 0}}{{range getvs "/l/*"}}{{$n = add $n 1}}{{end}}{{$n}}'
    assert render_go(tmp_path, src, {"/l/a": "1", "/l/b": "2"}) == b"2"


def test_map_range_iterates_in_sorted_key_order(tmp_path: Path) -> None:
    """Ranging over a map visits keys in sorted order, whatever the JSON order."""
    src = '{{range $k, $v := json (getv "/m")}}{{$k}}{{end}}'
    assert render_go(tmp_path, src, {"/m": '{"c": 1, "a": 2, "b": 3}'}) == b"abc"


def test_and_short_circuits_before_a_failing_lookup(tmp_path: Path) -> None:
    """`and` stops at the first false argument, so a guarded getv never runs."""
    src = '{{if and (exists "/x") (getv "/x")}}yes{{else}}no{{end}}'
    assert render_go(tmp_path, src, {}) == b"no"


def test_trim_markers_remove_newlines_and_tabs(tmp_path: Path) -> None:
    """`{{-` and `-}}` remove every adjacent space, tab and newline."""
    assert render_go(tmp_path, "a \n\t {{- 1 -}} \n\t b", {}) == b"a1b"


def test_literal_jinja_syntax_in_text_is_printed_verbatim(tmp_path: Path) -> None:
    """`{%`, `{#` and a `{` before an action are text in Go, never Jinja tags."""
    src = '{% x %} {# y #} {{"z"}}{'
    assert render_go(tmp_path, src, {}) == b"{% x %} {# y #} z{"


def test_nil_prints_no_value(tmp_path: Path) -> None:
    """The dot at the top (confd passes nil data) and missing map keys print `<no value>`."""
    src = '{{.}} {{index (json (getv "/m")) "missing"}}'
    assert render_go(tmp_path, src, {"/m": "{}"}) == b"<no value> <no value>"


def test_values_print_in_go_syntax() -> None:
    """Lists, maps, bools, nil and floats print as Go's fmt prints them."""
    assert go_value(["a", "b"]) == "[a b]"
    assert go_value({"k": "v", "a": True}) == "map[a:true k:v]"
    assert go_value(None) == "<nil>"
    assert go_value(1e6) == "1e+06"
    assert go_value(2.0) == "2"


def test_printf_formats_go_verbs() -> None:
    """printf understands %s %d %v %q %x and reports mismatches as Go does."""
    assert go_sprintf("%s=%d %v %q %x", "a", 1, [1, 2], 'q"', 255) == 'a=1 [1 2] "q\\"" ff'
    assert go_sprintf("%d", "x") == "%!d(string=x)"
    assert go_sprintf("%s") == "%!s(MISSING)"


def test_datetime_format_uses_go_reference_layouts() -> None:
    """`.Format` takes Go layouts such as RFC 3339's and confd's documented example."""
    t = datetime(2015, 1, 23, 13, 34, 56, 93250, tzinfo=timezone(timedelta(hours=-8), "PST"))
    assert go_time_format(t, "2006-01-02T15:04:05Z07:00") == "2015-01-23T13:34:56-08:00"
    assert go_time_format(t, "Jan 2, 2006 at 3:04pm (MST)") == "Jan 23, 2015 at 1:34pm (PST)"
    assert go_time_format(t, "Monday _2 .000") == "Friday 23 .093"
    utc = t.astimezone(UTC)
    assert go_time_format(utc, "2006-01-02T15:04:05Z07:00") == "2015-01-23T21:34:56Z"


def test_datetime_format_in_a_template(tmp_path: Path) -> None:
    """confd's `{{datetime.Format "..."}}` calls Format on the current time."""
    out = render_go(tmp_path, '{{datetime.Format "2006"}}', {})
    assert out == str(datetime.now().year).encode()


def test_go_globals_do_not_collide_with_confd_names() -> None:
    """Every Go builtin is registered under a `_go_` name."""
    assert all(name.startswith("_go_") for name in GO_GLOBALS)
    assert not set(GO_GLOBALS) & set(funcs.STATIC_FUNCTIONS)


# Errors: reported at translation time with file, line and column, never wrong output.


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        ('x\n  {{template "x"}}', "{{template}}"),
        ('\n\n  {{define "x"}}y{{end}}', "{{define}}"),
        ('\n  {{block "x" .}}y{{end}}', "{{block}}"),
        ('{{range getvs "/*"}}\n  {{break}}{{end}}', "{{break}}"),
        ('{{range getvs "/*"}}\n  {{continue}}{{end}}', "{{continue}}"),
    ],
)
def test_unsupported_action_names_file_line_and_column(source: str, construct: str) -> None:
    """template/define/block/break/continue are refused with their position."""
    with pytest.raises(TemplateSyntaxError) as info:
        translate(source, filename="site.tmpl")
    line = source.count("\n") + 1
    assert info.value.file == "site.tmpl"
    assert info.value.line == line
    assert "column 5" in str(info.value)  # the keyword, after "  {{"
    assert construct in str(info.value)
    assert str(info.value).startswith(f"site.tmpl:{line}: ")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ nosuch 1 }}", 'function "nosuch" not defined'),
        ("{{ $x }}", 'undefined variable "$x"'),
        ("{{ if 1 }}open", "has no {{end}}"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ 1 ", "unclosed action"),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{ nil }}", "nil is not a command"),
        ("{{ call 1 }}", "call is not supported"),
        ("{{/* open", "unclosed comment"),
        ("{{ (1 }}", "unclosed left paren"),
        ("{{ 1 2 }}", "can't give argument to non-function"),
    ],
)
def test_malformed_template_is_a_syntax_error(source: str, message: str) -> None:
    """Broken or unsupported syntax raises TemplateSyntaxError saying what is wrong."""
    with pytest.raises(TemplateSyntaxError) as info:
        translate(source, filename="t.tmpl")
    assert message in str(info.value)
    assert "column" in str(info.value)


def test_engine_reports_translation_errors_when_loading(tmp_path: Path) -> None:
    """TemplateSet.load returns the translation error with the template's file and line."""
    with pytest.raises(TemplateSyntaxError) as info:
        render_go(tmp_path, 'ok\n{{template "x"}}', {})
    assert info.value.line == 2
    assert str(info.value.file).endswith("t.tmpl")


def test_missing_key_error_points_at_the_go_line(tmp_path: Path) -> None:
    """A getv of an absent key fails naming the key and the Go template's line."""
    with pytest.raises(MissingKeyError) as info:
        render_go(tmp_path, 'a\n{{- "b" -}}\n\n{{getv "/nope"}}', {})
    assert info.value.key == "/nope"
    assert info.value.line == 4


def test_comparing_values_of_different_kinds_fails(tmp_path: Path) -> None:
    """`eq "1" 1` is an error in Go, not false."""
    with pytest.raises(RenderError, match="incompatible types"):
        render_go(tmp_path, '{{eq "1" 1}}', {})


def test_range_over_a_string_fails(tmp_path: Path) -> None:
    """Go cannot range over a string; neither does the translation."""
    with pytest.raises(RenderError, match="range can't iterate"):
        render_go(tmp_path, '{{range "abc"}}{{.}}{{end}}', {})
