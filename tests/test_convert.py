"""`confpy convert`: Go templates become readable Jinja2 that renders the same bytes.

Every corpus case (tests/gocorpus/) is converted and rendered by confpy's plain Jinja
engine; the few that plain Jinja cannot print exactly must be refused, never mangled.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confpy.commands import convert as convert_command
from confpy.config.resource import load_resources
from confpy.convert.text import escape_text, jinja_string
from confpy.convert.tree import NotReadable, convert_template, convert_tree
from confpy.errors import ConfigError, RenderError, TemplateSyntaxError
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot
from tests.helpers import render_resource

CORPUS = Path(__file__).parent / "gocorpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "template.tmpl").is_file())

# Cases using Go formatting plain Jinja has no exact spelling for (print, html, slice,
# Go-only time layouts, Go's float format): convert keeps these as .tmpl.
REFUSED = {
    "datetime_format_shape",
    "html_js_urlquery",
    "len_index_slice",
    "output_values",
    "print_functions",
    "root_dot_and_nil",
    "numbers_print",
    "quoting",
    "json_numbers",
    # confd finds no key written with a trailing slash; reverse of gets does nothing.
    "docs_json_advanced_traversal",
    "docs_json_array",
    "string_functions",
    # Cases kept for bugs confd's Go does differently from plain Jinja.
    "break_continue",
    "bytes_pass_through",
    "complex_literals",
    "define_template_block",
    "eq_mixed_kinds_is_error",
    "fmt_width_per_element",
    "glob_bang_is_literal",
    "index_string_is_byte",
    "json_surrogate_and_null",
    "keys_not_normalised",
    "reverse_types",
    "fmt_extra_args",
    "fmt_verbs_matrix",
    "strings_odd_inputs",
}


def render_jinja(tmp_path: Path, source: str, keys: dict[str, str], prefix: str = "") -> bytes:
    """Render Jinja source as confpy renders a `.j2` resource."""
    return render_resource(tmp_path, "t.j2", source, keys, prefix, syntax="jinja")


def load_case(name: str) -> tuple[str, dict[str, str], str, bytes | None]:
    d = CORPUS / name
    keys = json.loads((d / "keys.json").read_text())
    source = (d / "template.tmpl").read_bytes().decode("utf-8")
    out = d / "expected.out"
    return source, keys["keys"], keys["prefix"], out.read_bytes() if out.is_file() else None


# The corpus.


@pytest.mark.parametrize("case", [c for c in CASES if c not in REFUSED])
def test_converted_corpus_case_renders_bytes_go_renders(case: str, tmp_path: Path) -> None:
    """The readable Jinja renders exactly what confd rendered from the original, or, where
    confd refuses the template, convert or the converted template refuses it too."""
    source, keys, prefix, expected = load_case(case)
    if expected is None:
        with pytest.raises((TemplateSyntaxError, RenderError)):
            render_jinja(tmp_path, convert_template(source), keys, prefix)
        return
    assert render_jinja(tmp_path, convert_template(source), keys, prefix) == expected


def test_converted_template_fails_loudly_on_go_float_formatting(tmp_path: Path) -> None:
    """A JSON number of a million or more prints as 1e+06 in Go: the Jinja refuses to guess."""
    source = '{{$d := json (getv "/m")}}{{$d.n}}'
    out = convert_template(source)
    assert render_jinja(tmp_path, out, {"/m": '{"n": 80}'}) == b"80"
    with pytest.raises(RenderError, match="go_value_cannot_print_this_float"):
        render_jinja(tmp_path, out, {"/m": '{"n": 1000000}'})


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_convert_refuses_what_plain_jinja_cannot_print_exactly(case: str) -> None:
    """No silent difference: such templates raise NotReadable naming file and line."""
    source, *_ = load_case(case)
    with pytest.raises(NotReadable) as info:
        convert_template(source, "x.tmpl")
    assert info.value.file == "x.tmpl"
    assert info.value.line is not None
    assert "keep the .tmpl" in str(info.value)


def test_most_of_the_corpus_converts() -> None:
    """Refusal is the exception: every documented confd example confd renders converts."""
    assert len(REFUSED) * 2 < len(CASES)
    docs = {c for c in REFUSED if c.startswith(("docs_", "quickstart_"))}
    assert all(load_case(c)[3] is None for c in docs)


# Readability.


def test_range_over_gets_reads_as_a_for_loop() -> None:
    """`{{range gets ...}}{{.Key}}` becomes `{% for kv in gets(...) %}{{ kv.Key }}`."""
    out = convert_template('{{range gets "/upstream/*"}}{{.Key}}={{.Value}}{{end}}')
    assert out == '{% for kv in gets("/upstream/*") %}{{ kv.Key }}={{ kv.Value }}{% endfor %}'


def test_getv_and_exists_read_as_calls() -> None:
    """getv prints directly; exists is an if condition."""
    out = convert_template('{{if exists "/x"}}{{getv "/host"}}{{end}}')
    assert out == '{% if exists("/x") %}{{ getv("/host") }}{% endif %}'


def test_a_parenthesised_argument_reads_without_extra_parentheses() -> None:
    """`gets (printf ...)` is `gets("..."|format(...))`: a call's arguments need none."""
    out = convert_template('{{range gets (printf "/s/%s/*" (getv "/n"))}}{{.Value}}{{end}}')
    assert out == ('{% for kv in gets("/s/%s/*"|format(getv("/n"))) %}{{ kv.Value }}{% endfor %}')


def test_go_variables_keep_their_names() -> None:
    """`$host :=` becomes `{% set host = ... %}`; a name clashing with a confd function
    gets a trailing underscore."""
    out = convert_template('{{$host := getv "/h"}}{{$dir := "d"}}{{$host}}{{$dir}}')
    assert out == '{% set host = getv("/h") %}{% set dir_ = "d" %}{{ host }}{{ dir_ }}'


def test_else_if_becomes_elif() -> None:
    """An `{{else if}}` chain is one Jinja if/elif/else."""
    out = convert_template('{{if eq (getv "/m") "a"}}A{{else if exists "/b"}}B{{else}}C{{end}}')
    assert out == '{% if getv("/m") == "a" %}A{% elif exists("/b") %}B{% else %}C{% endif %}'


def test_go_comments_stay_as_jinja_comments() -> None:
    """`{{/* ... */}}` becomes `{# ... #}`; trim markers still trim the text around it."""
    out = convert_template('a {{- /* the upstreams */ -}} \n{{getv "/x"}}{{/* #} */}}')
    assert out == 'a{# the upstreams #}{{ getv("/x") }}{# # } #}'


def test_printf_becomes_the_format_filter() -> None:
    """printf with %s/%d of known strings and ints is Jinja's format filter."""
    out = convert_template('{{printf "%s:%d" (getv "/h") (atoi "80")}}')
    assert out == '{{ "%s:%d"|format(getv("/h"), atoi("80")) }}'


def test_variable_assigned_in_a_loop_uses_a_namespace(tmp_path: Path) -> None:
    """`$n = ...` inside range needs Jinja's namespace to survive the loop."""
    src = '{{$n := 0}}{{range getvs "/l/*"}}{{$n = add $n 1}}{{end}}{{$n}}'
    out = convert_template(src)
    assert "ns.n" in out
    assert render_jinja(tmp_path, out, {"/l/a": "1", "/l/b": "2"}) == b"2"


def test_broken_go_syntax_is_a_syntax_error() -> None:
    """Convert reports broken templates like the engine does."""
    with pytest.raises(TemplateSyntaxError, match="column"):
        convert_template("{{if}}", "x.tmpl")


# Trees.


def make_confdir(root: Path) -> Path:
    confdir = root / "confd"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates" / "sub").mkdir(parents=True)
    (confdir / "conf.d" / "app.toml").write_text(
        '# the app\'s config\n[template]\nsrc = "app.conf.tmpl"  # Go template\n'
        'dest = "/tmp/app.conf"\nkeys = ["/app"]\n'
    )
    (confdir / "conf.d" / "web.toml").write_text(
        '[template]\nsrc = "sub/web.tmpl"\nsyntax = "go"\ndest = "/tmp/web.conf"\nkeys = ["/web"]\n'
    )
    (confdir / "conf.d" / "raw.toml").write_text(
        '[template]\nsrc = "raw.tmpl"\ndest = "/tmp/raw.conf"\nkeys = ["/app"]\n'
    )
    (confdir / "templates" / "app.conf.tmpl").write_text(
        'host = {{getv "/app/host"}}\n{{range gets "/app/upstream/*"}}server {{.Value}}\n{{end}}'
    )
    (confdir / "templates" / "sub" / "web.tmpl").write_text('{{getv "/web/name" | toUpper}}\n')
    (confdir / "templates" / "raw.tmpl").write_text('{{html (getv "/app/host")}}\n')
    (confdir / "confpy.toml").write_text("# settings stay as they are\n")
    return confdir


KEYS = {"/app/host": "a<b", "/app/upstream/u1": "10.0.0.1", "/web/name": "site"}


def render_all(confdir: Path) -> dict[str, bytes]:
    loaded = load_resources(confdir)
    assert not loaded.errors
    templates, errors = TemplateSet.load(confdir / "templates", loaded.resources)
    assert not errors
    snapshot = Snapshot(1, {k: v.encode() for k, v in KEYS.items()})
    return {r.name: templates.render(r, snapshot) for r in loaded.resources}


def test_tree_conversion_renders_what_the_original_rendered(tmp_path: Path) -> None:
    """Every resource of the converted tree renders the original's bytes."""
    confdir = make_confdir(tmp_path)
    out = tmp_path / "out"
    convert_tree(confdir, out, force=False)
    assert render_all(out) == render_all(confdir)


def test_tree_conversion_renames_templates_and_retargets_resources(tmp_path: Path) -> None:
    """`.tmpl` becomes `.j2`; `src` changes and nothing else in the TOML does."""
    confdir = make_confdir(tmp_path)
    out = tmp_path / "out"
    written = convert_tree(confdir, out, force=False)
    assert (out / "templates" / "app.conf.j2").is_file()
    assert (out / "templates" / "sub" / "web.j2").is_file()
    assert not (out / "templates" / "app.conf.tmpl").exists()
    app = (out / "conf.d" / "app.toml").read_text()
    assert app == (confdir / "conf.d" / "app.toml").read_text().replace(
        "app.conf.tmpl", "app.conf.j2"
    )
    assert 'syntax = "jinja"' in (out / "conf.d" / "web.toml").read_text()
    assert (out / "confpy.toml").read_text() == "# settings stay as they are\n"
    assert set(written) == {p for p in out.rglob("*") if p.is_file()}


def test_tree_conversion_converts_go_templates_whatever_their_name(tmp_path: Path) -> None:
    """`src = "haproxy.cfg"` is a Go template, as the loader (and confd) read it: converted."""
    confdir = tmp_path / "confd"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates").mkdir()
    (confdir / "templates" / "haproxy.cfg").write_text('host {{getv "/app/host"}}\n')
    (confdir / "conf.d" / "haproxy.toml").write_text(
        '[template]\nsrc = "haproxy.cfg"\ndest = "/tmp/haproxy.cfg"\nkeys = ["/app"]\n'
    )
    out = tmp_path / "out"
    convert_tree(confdir, out, force=False)
    assert (out / "templates" / "haproxy.cfg.j2").is_file()
    assert 'src = "haproxy.cfg.j2"' in (out / "conf.d" / "haproxy.toml").read_text()
    assert render_all(out) == render_all(confdir)


def test_tree_conversion_keeps_templates_it_cannot_convert(tmp_path: Path) -> None:
    """A template plain Jinja cannot render exactly stays `.tmpl`, and the caller is told."""
    confdir = make_confdir(tmp_path)
    kept: list[Path] = []
    convert_tree(confdir, tmp_path / "out", on_keep=lambda p, reason: kept.append(p))
    assert kept == [confdir / "templates" / "raw.tmpl"]
    assert (tmp_path / "out" / "templates" / "raw.tmpl").is_file()
    assert 'src = "raw.tmpl"' in (tmp_path / "out" / "conf.d" / "raw.toml").read_text()


def test_tree_conversion_refuses_a_non_empty_out_without_force(tmp_path: Path) -> None:
    """An existing non-empty --out is an error unless --force is given."""
    confdir = make_confdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        convert_tree(confdir, out, force=False)
    assert convert_tree(confdir, out, force=True)


def test_tree_conversion_accepts_an_empty_out(tmp_path: Path) -> None:
    """An existing empty directory is fine."""
    confdir = make_confdir(tmp_path)
    (tmp_path / "out").mkdir()
    assert convert_tree(confdir, tmp_path / "out", force=False)


# The command.


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="confpy")
    convert_command.register(p.add_subparsers(dest="command"))
    return p


def test_command_prints_one_translation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`confpy convert FILE` prints the Jinja translation to stdout."""
    tmpl = tmp_path / "a.tmpl"
    tmpl.write_text('{{getv "/x"}}\n')
    args = parser().parse_args(["convert", str(tmpl)])
    assert args.func(args) == 0
    assert capsys.readouterr().out == '{{ getv("/x") }}\n'


def test_command_converts_a_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`confpy convert --confdir D --out O` writes the tree and names kept templates."""
    confdir = make_confdir(tmp_path)
    args = parser().parse_args(["convert", "--confdir", str(confdir), "--out", str(tmp_path / "o")])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "raw.tmpl" in captured.err
    assert (tmp_path / "o" / "templates" / "app.conf.j2").is_file()


def test_command_needs_a_template_or_a_tree(tmp_path: Path) -> None:
    """Without TEMPLATE, both --confdir and --out are required."""
    args = parser().parse_args(["convert", "--confdir", str(tmp_path)])
    with pytest.raises(ConfigError, match="--out"):
        args.func(args)


def test_command_module_imports_no_jinja() -> None:
    """Importing the command (as `confpy --help` does) stays light."""
    code = "import sys, confpy.commands.convert; print('jinja2' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_field_under_a_missing_key_prints_no_value_as_in_go(tmp_path: Path) -> None:
    """`$m.b.c` with no `b` is `<no value>` in Go; with `b` a JSON null it is an error."""
    out = convert_template('{{$m := json (getv "/m")}}{{$m.b.c}}')
    assert render_jinja(tmp_path, out, {"/m": '{"a": 1}'}) == b"<no value>"
    with pytest.raises(RenderError):
        render_jinja(tmp_path, out, {"/m": '{"b": null}'})


@pytest.mark.parametrize(
    "source",
    [
        '{{index (split "a,b" ",") -1}}',
        '{{getv "app/x"}}',
        '{{range ls "/"}}{{.}}{{end}}',
        '{{$l := ls "/u"}}{{reverse $l}}',
        '{{join (seq 1 3) ","}}',
        '{{eq "1" 1}}',
    ],
)
def test_convert_refuses_go_that_jinja_would_render_differently(source: str) -> None:
    """Negative index, unnormalised keys, ls of the root, in-place reverse, typed
    arguments: the template stays a .tmpl rather than render other bytes."""
    with pytest.raises(NotReadable):
        convert_template(source, "x.tmpl")


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_jinja_literals_and_text_stand_for_exactly_their_characters(text: str) -> None:
    """Any string, as a Jinja string literal or as literal template text, renders as itself
    (quotes, backslashes, CRs, control characters, `{{`, `{%`, `{#`)."""
    env = jinja2.Environment(keep_trailing_newline=True)
    assert env.from_string("{{ " + jinja_string(text) + " }}").render() == text
    assert env.from_string(escape_text(text)).render() == text
