"""confd's Go templates run unchanged by the direct engine: they render what confd renders.

The corpus under tests/gocorpus/ holds one directory per case: `template.tmpl`,
`keys.json` (`{"prefix": ..., "keys": {absolute key: value}}`) and `expected.out`, the
bytes the real confd wrote (bench/confd_diff.py --regen-corpus), or `expected.err` when
confd refuses the template.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from confpy.config.resource import load_resource
from confpy.errors import ConfpyError, MissingKeyError, RenderError, TemplateSyntaxError
from confpy.golib.time import go_time_format
from confpy.gotemplate.engine import GoTemplate
from confpy.gotemplate.gofmt import sprint, sprintf
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot

CORPUS = Path(__file__).parent / "gocorpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "template.tmpl").is_file())


def load_case(name: str) -> tuple[str, dict[str, str], str, bytes | None]:
    d = CORPUS / name
    keys = json.loads((d / "keys.json").read_text())
    source = (d / "template.tmpl").read_bytes().decode("utf-8")
    out = d / "expected.out"
    return source, keys["keys"], keys["prefix"], out.read_bytes() if out.is_file() else None


def render_go(tmp_path: Path, source: str, keys: dict[str, str], prefix: str = "") -> bytes:
    """Render a Go template the way confpy does: a resource, a TemplateSet, a snapshot.

    Values are bytes in etcd; a surrogate escape in `keys` stands for a non-UTF-8 byte."""
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "conf.d").mkdir(exist_ok=True)
    (tmp_path / "templates" / "t.tmpl").write_bytes(source.encode("utf-8"))
    toml = tmp_path / "conf.d" / "t.toml"
    toml.write_text(
        f'[template]\nsrc = "t.tmpl"\ndest = "/tmp/t.out"\nkeys = ["/"]\nprefix = "{prefix}"\n'
    )
    resource = load_resource(toml, tmp_path / "templates")
    assert resource.syntax == "go"
    templates, errors = TemplateSet.load(tmp_path / "templates", [resource])
    if errors:
        raise errors[0]
    values = {k: v.encode("utf-8", "surrogateescape") for k, v in keys.items()}
    return templates.render(resource, Snapshot(7, values))


# The corpus.


def test_corpus_is_broad() -> None:
    """The corpus covers confd's documented examples and every construct, one case each."""
    assert len(CASES) >= 40
    assert all(
        (CORPUS / c / "expected.out").is_file() or (CORPUS / c / "expected.err").is_file()
        for c in CASES
    )


@pytest.mark.parametrize("case", CASES)
def test_corpus_case_renders_bytes_confd_renders(case: str, tmp_path: Path) -> None:
    """Each corpus template prints exactly confd's bytes, or fails where confd fails."""
    source, keys, prefix, expected = load_case(case)
    if expected is None:
        with pytest.raises(ConfpyError):
            render_go(tmp_path, source, keys, prefix)
    else:
        assert render_go(tmp_path, source, keys, prefix) == expected


def test_carriage_returns_in_text_are_kept(tmp_path: Path) -> None:
    """CRLF line ends in the template are written as they are."""
    source, keys, prefix, expected = load_case("crlf_text")
    assert expected is not None and b"\r\n" in expected
    assert render_go(tmp_path, source, keys, prefix) == expected


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
    assert sprint(["a", "b"]) == "[a b]"
    assert sprint({"k": "v", "a": True}) == "map[a:true k:v]"
    assert sprint(None) == "<nil>"
    assert sprint(1e6) == "1e+06"
    assert sprint(2.0) == "2"


def test_printf_formats_go_verbs() -> None:
    """printf understands %s %d %v %q %x and reports mismatches as Go does."""
    assert sprintf("%s=%d %v %q %x", "a", 1, [1, 2], 'q"', 255) == 'a=1 [1 2] "q\\"" ff'
    assert sprintf("%d", "x") == "%!d(string=x)"
    assert sprintf("%s") == "%!s(MISSING)"


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


# Errors: reported with file, line and column, never a wrong output or a traceback.


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{define "x"}}<{{.}}>{{end}}{{template "x" 1}}', b"<1>"),
        ('{{block "b" 2}}[{{.}}]{{end}}', b"[2]"),
        ("{{range seq 1 5}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", b"12"),
        ("{{range seq 1 4}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", b"134"),
        ("{{$\u00fc := 3}}{{$\u00fc}}", b"3"),
        ("{{1+7i}}", b"(1+7i)"),
    ],
)
def test_go_constructs_render_as_in_confd(source: str, expected: bytes, tmp_path: Path) -> None:
    """define/template/block, break/continue, non-ASCII names and complex literals work."""
    assert render_go(tmp_path, source, {}) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ nosuch 1 }}", 'function "nosuch" not defined'),
        ("{{ $x }}", 'undefined variable "$x"'),
        ("{{ if 1 }}open", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ 1 ", "unclosed action"),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{/* open", "unclosed comment"),
        ("{{ (1 }}", "unclosed left paren"),
        ("{{break}}", "{{break}} outside {{range}}"),
        ("{{" * 200 + "}}" * 200, "nesting"),
        ("{{" + "(" * 300 + "1" + ")" * 300 + "}}", "nesting"),
    ],
)
def test_malformed_template_is_a_syntax_error(source: str, message: str) -> None:
    """Broken syntax raises TemplateSyntaxError saying what is wrong, and where."""
    with pytest.raises(TemplateSyntaxError) as info:
        GoTemplate.compile(source, "t.tmpl")
    assert message in str(info.value) or "unexpected" in str(info.value)
    assert str(info.value).startswith("t.tmpl:1: column ")


@pytest.mark.parametrize(
    "source",
    [
        "{{ nil }}",
        "{{ 1 2 }}",
        '{{define "r"}}{{template "r" .}}{{end}}{{template "r"}}',
        '{{atoi "x"}}',
        "{{div 1 0}}",
        '{{(json "[1]").a}}',
        '{{index (json "{\\"a\\": null}") "a" "b"}}',
        '{{slice "abc" 2 1}}',
        "{{printf 1}}",
        '{{add "1" 2}}',
        '{{template "none"}}',
    ],
)
def test_failing_execution_is_a_render_error_with_a_column(source: str) -> None:
    """Every execution failure, whatever its kind, is a RenderError with line and column."""
    with pytest.raises(RenderError) as info:
        GoTemplate.compile(source, "t.tmpl").render({})
    assert str(info.value).startswith("t.tmpl:1: column ")


def test_error_messages_never_hold_a_value(tmp_path: Path) -> None:
    """A failing function names the function and the value's length, not the value."""
    with pytest.raises(RenderError) as info:
        render_go(tmp_path, '{{atoi (getv "/secret")}}', {"/secret": "hunter2-private"})
    assert "hunter2" not in str(info.value)


def test_non_utf8_values_are_written_as_the_same_bytes() -> None:
    """A value that is not UTF-8 is data: written as is, sliced by byte, decoded base64."""
    t = GoTemplate.compile('{{getv "/b"}}|{{slice "h\u00e9llo" 1 2}}|{{base64Decode "/w=="}}', "t")
    assert t.render({"/b": b"caf\xe9"}) == b"caf\xe9|\xc3|\xff"


def test_lone_surrogate_from_json_becomes_replacement_character() -> None:
    """JSON's "\\ud800" is U+FFFD, as Go decodes it; writing never fails."""
    t = GoTemplate.compile('{{(json "{\\"a\\":\\"\\\\ud800\\"}").a}}', "t")
    assert t.render({}) == "\ufffd".encode()


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
