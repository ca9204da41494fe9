"""`confpy convert` keeps a resource's meaning or refuses: prefixes, `ls`, CRs, Go's errors.

Converted resources are rendered next to the Go originals (confpy's Go engine renders
confd's bytes; the prefix rule is checked against the real confd too). What Go would fail
on is refused at convert time with one line naming file and line; a converted template
that fails never shows a Python exception's text.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confpy.config.resource import load_resources
from confpy.convert.tree import NotReadable, convert_template
from confpy.errors import ConfpyError
from confpy.render.templates import TemplateSet
from confpy.store import EtcdStore
from confpy.store.snapshot import Snapshot
from tests.confd_diff import CONFD, confd_available
from tests.conftest import Confpy
from tests.convert_helpers import convert_confdir
from tests.gogen import generate
from tests.helpers import render_resource

HAPROXY = '{{range gets "/backends/*"}}server {{base .Key}} {{.Value}}\n{{end}}'
HAPROXY_TOML = (
    '[template]\nsrc = "haproxy.cfg.tmpl"\ndest = "{dest}"\nprefix = "/haproxy"\n'
    'keys = ["/backends"]\n'
)


def haproxy_confdir(root: Path, dest: Path, newline: str = "\n") -> Path:
    """A confd directory whose resource has its own prefix, as published haproxy images do."""
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    toml = HAPROXY_TOML.format(dest=dest).replace("\n", newline)
    (root / "conf.d" / "haproxy.toml").write_bytes(toml.encode())
    (root / "templates" / "haproxy.cfg.tmpl").write_text(HAPROXY)
    return root


def render_bytes(root: Path, source: str, keys: dict[str, bytes]) -> bytes:
    """Render Jinja `source` as confpy renders a `.j2` resource, from raw values."""
    (root / "templates").mkdir()
    (root / "conf.d").mkdir()
    (root / "templates" / "c.j2").write_text(source)
    (root / "conf.d" / "c.toml").write_text('[template]\nsrc = "c.j2"\ndest = "/x"\nkeys = ["/"]\n')
    (resource,) = load_resources(root).resources
    templates, errors = TemplateSet.load(root / "templates", [resource])
    assert not errors
    return templates.render(resource, Snapshot(1, keys))


# The prefix rule.


def test_converted_resource_keeps_confds_rule_that_a_global_prefix_replaces_its_own(
    tmp_path: Path,
) -> None:
    """With `--prefix /site`, the converted resource reads under /site, as the Go one does
    (not /site/haproxy); without a global prefix, under its own /haproxy."""
    confdir = haproxy_confdir(tmp_path / "confd", tmp_path / "out")
    out = convert_confdir(confdir, tmp_path).confdir
    for prefix, expected in (("/site", "/site"), ("", "/haproxy")):
        (go,) = load_resources(confdir, prefix=prefix).resources
        (converted,) = load_resources(out, prefix=prefix).resources
        assert converted.syntax == "jinja"
        assert converted.prefix == go.prefix == expected


@pytest.mark.skipif(not confd_available(), reason=f"the confd binary is absent ({CONFD})")
def test_converted_haproxy_resource_renders_confds_backends_under_a_global_prefix(
    store: EtcdStore, confpy: Confpy, etcd: str, tmp_path: Path
) -> None:
    """`confd -prefix /site` and `confpy render --prefix /site` of the converted confdir
    write the same haproxy.cfg, with the backends stored under /site."""
    for key, value in {
        "/site/backends/a": b"10.0.0.1",
        "/haproxy/backends/b": b"10.0.0.2",
        "/site/haproxy/backends/c": b"10.0.0.3",
    }.items():
        store.put(key, value)
    confd_out, confpy_out = tmp_path / "confd.cfg", tmp_path / "confpy.cfg"
    haproxy_confdir(tmp_path / "for-confd", confd_out)
    converted = convert_confdir(haproxy_confdir(tmp_path / "for-confpy", confpy_out), tmp_path)
    assert converted.kept == {}
    subprocess.run(
        [
            str(CONFD),
            "-onetime",
            "-backend",
            "etcdv3",
            "-node",
            etcd,
            "-prefix",
            "/site",
            "-confdir",
            str(tmp_path / "for-confd"),
            "-log-level",
            "panic",
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    result = confpy.run(
        "render", "--onetime", "--prefix", "/site", "--confdir", str(converted.confdir)
    )
    assert result.returncode == 0, result.stderr
    assert confd_out.read_bytes() == b"server a 10.0.0.1\n"
    assert confpy_out.read_bytes() == confd_out.read_bytes()


# ls and lsdir.

_NAMES = st.sampled_from(["a", "B", "leaf", "b"])
_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map(lambda p: "/x/" + "/".join(p))


@settings(max_examples=60, deadline=None)
@given(keys=st.sets(_PATHS, min_size=1, max_size=6), query=_PATHS)
def test_converted_ls_and_lsdir_list_what_go_lists(keys: set[str], query: str) -> None:
    """`ls` of a key that has a value lists its own name too (`[leaf]`, truthy), as memkv's
    List does; `lsdir` only directories; both sorted as Go sorts (case matters)."""
    source = (
        f'{{{{range ls "{query}"}}}}[{{{{.}}}}]{{{{end}}}}|'
        f'{{{{range lsdir "{query}"}}}}[{{{{.}}}}]{{{{end}}}}|{{{{if ls "{query}"}}}}T{{{{end}}}}'
    )
    values = dict.fromkeys(keys, "v")
    with tempfile.TemporaryDirectory() as go_dir, tempfile.TemporaryDirectory() as j2_dir:
        go = render_resource(Path(go_dir), "t.tmpl", source, values, syntax="go")
        converted = convert_template(source, "t.tmpl")
        assert render_resource(Path(j2_dir), "t.j2", converted, values) == go


def test_ls_of_a_leaf_key_is_its_name_and_true() -> None:
    """The case from the issue: `{{if ls "/x/leaf"}}` is true when /x/leaf has a value."""
    source = '{{if ls "/x/leaf"}}{{range ls "/x/leaf"}}{{.}}{{end}}{{end}}'
    with tempfile.TemporaryDirectory() as d:
        assert render_resource(Path(d), "t.j2", convert_template(source), {"/x/leaf": "1"}) == (
            b"leaf"
        )


def test_convert_refuses_and_or_of_kinds_it_cannot_print_as_go_does() -> None:
    """`or` of key-value pairs and a number has no one Jinja spelling that prints as Go."""
    with pytest.raises(NotReadable, match=r"^x\.tmpl:1: or of a int or a list:kv value"):
        convert_template('{{or (gets "/a/*") 0}}', "x.tmpl")


# Variables.


@pytest.mark.parametrize(
    "source",
    [
        '{{range $e := split "a,b" ","}}{{$e = "z"}}{{.}}{{$e}}{{end}}',
        '{{with $x := getv "/a"}}{{$x = "z"}}{{.}}{{$x}}{{end}}',
        '{{$e := "q"}}{{range $e = split "a,b" ","}}{{$e = "z"}}{{.}}{{end}}{{$e}}',
    ],
)
def test_assigning_the_variable_that_names_the_dot_leaves_the_dot_alone(source: str) -> None:
    """`$e = ...` inside `range $e :=` or `with $e :=` changes `$e`, not the dot."""
    keys = {"/a": "1"}
    with tempfile.TemporaryDirectory() as go_dir, tempfile.TemporaryDirectory() as j2_dir:
        go = render_resource(Path(go_dir), "t.tmpl", source, keys, syntax="go")
        assert render_resource(Path(j2_dir), "t.j2", convert_template(source), keys) == go


# Carriage returns.


def test_convert_keeps_the_carriage_returns_of_every_file(tmp_path: Path) -> None:
    """A CRLF resource file stays CRLF (the added line too), a kept Go template and any
    other file stay byte for byte, and the converted template writes the template's CRs."""
    confdir = haproxy_confdir(tmp_path / "confd", tmp_path / "out", newline="\r\n")
    templates = confdir / "templates"
    (templates / "haproxy.cfg.tmpl").write_bytes(HAPROXY.replace("\n", "\r\n").encode())
    (templates / "kept.tmpl").write_bytes(b'{{html (getv "/a")}}\r\nx\r\n')
    (confdir / "notes.txt").write_bytes(b"a\r\nb\r\n")
    out = convert_confdir(confdir, tmp_path)
    assert "kept.tmpl" in out.kept
    toml = (out.confdir / "conf.d" / "haproxy.toml").read_bytes()
    assert b"global_prefix_replaces" in toml
    assert toml.count(b"\n") == toml.count(b"\r\n") == HAPROXY_TOML.count("\n") + 1
    assert (
        out.confdir / "templates" / "kept.tmpl"
    ).read_bytes() == b'{{html (getv "/a")}}\r\nx\r\n'
    assert (out.confdir / "notes.txt").read_bytes() == b"a\r\nb\r\n"
    j2 = (out.confdir / "templates" / "haproxy.cfg.j2").read_text()
    with tempfile.TemporaryDirectory() as d:
        keys = {"/backends/a": "1"}
        assert render_resource(Path(d), "t.j2", j2, keys) == b"server a 1\r\n"


# Go's errors.


@pytest.mark.parametrize(
    "source",
    [
        '{{$d := json (getv "/j")}}{{if eq $d.port 80}}x{{end}}',
        '{{eq (getvs "/r/*") 1}}',
        "{{lt true false}}",
        '{{eq "1" 1}}',
        "{{eq 1 1.0}}",
    ],
)
def test_convert_refuses_comparisons_go_fails_on(source: str) -> None:
    """`eq` of values of different or unknown kinds (a JSON number is a float64 in Go, never
    equal to 80 but an error): refused at convert time, in one line naming file and line."""
    with pytest.raises(NotReadable, match=r"^x\.tmpl:1: [^\n]*keep the \.tmpl") as info:
        convert_template(source, "x.tmpl")
    assert "Error" not in str(info.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{add 1}}", "wrong number of args for add: want 2 got 1"),
        ("{{len 3}}", "len of a int value is an error in Go"),
        ('{{"a" | toUpper "b"}}', "wrong number of args for toUpper: want 1 got 2"),
        ("{{getv}}", "wrong number of args for getv: want at least 1 got 0"),
        ("{{not 1 2}}", "wrong number of args for not: want 1 got 2"),
        ("{{toUpper 3}}", "toUpper of a int value where Go takes a string"),
        (
            '{{range lookupSRV "a" "b" "c"}}{{add .Port 1}}{{end}}',
            "add of a uint16 value where Go takes a int",
        ),
    ],
)
def test_convert_refuses_argument_errors_go_fails_on(source: str, message: str) -> None:
    """Wrong argument counts and kinds are Go errors when the template runs: convert names
    them with file and line instead of writing Jinja that raises a Python TypeError."""
    with pytest.raises(NotReadable) as info:
        convert_template("x\n" + source, "x.tmpl")
    assert str(info.value).startswith(f"x.tmpl:2: {message}")


PYTHON_ERROR = re.compile(
    r"\b(TypeError|AttributeError|ValueError|KeyError|IndexError|ZeroDivisionError|"
    r"OverflowError|UnicodeError|RecursionError|NameError)\b|object has no attribute|"
    r"positional argument|not subscriptable|unsupported operand"
)


def test_converted_templates_that_fail_never_show_python_exception_text() -> None:
    """Over generated templates and key trees (tests/gogen.py, also wrong on purpose), a
    converted template either renders or fails with a message free of Python's wording."""
    failures = 0
    for case in generate(4242, 400):
        try:
            jinja = convert_template(case.template, "c.tmpl")
        except ConfpyError:
            continue
        with tempfile.TemporaryDirectory() as d:
            try:
                render_bytes(Path(d), jinja, case.keys)
            except ConfpyError as e:
                failures += 1
                assert not PYTHON_ERROR.search(str(e)), (case.template, str(e))
    assert failures > 0
