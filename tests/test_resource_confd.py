"""Resource files as confd (master) reads them: its template language, its optional fields,
what it ignores and what it refuses; and what `confpy check` says where confpy differs."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from confpy.apply.installer import desired_state
from confpy.config.resource import load_resource, load_resources
from confpy.errors import ConfigError, InstallError
from tests.confd_corpus.runner import CONFD, confd_available
from tests.conftest import Confpy
from tests.helpers import ConfTree


def load(tree: ConfTree, body: str, prefix: str = ""):  # type: ignore[no-untyped-def]
    return load_resource(tree.resource("app", body), tree.confdir / "templates", prefix)


def checked(tmp_path: Path, confpy: Confpy, template: tuple[str, str], resource: str) -> str:
    """What `confpy check` prints for a confdir of one template and one resource `app`;
    it must pass."""
    tree = ConfTree(tmp_path)
    tree.template(*template)
    tree.resource("app", resource)
    result = confpy.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("src", "syntax"),
    [
        ("haproxy.cfg", "go"),
        ("reload", "go"),
        ("nginx.conf", "go"),
        ("app.tmpl", "go"),
        ("app.j2", "jinja"),
        ("app.jinja", "jinja"),
        ("app.jinja2", "jinja"),
    ],
)
def test_a_template_is_go_unless_its_name_says_jinja(tree: ConfTree, src: str, syntax: str) -> None:
    """confd has one template language: `haproxy.cfg` is Go; only .j2/.jinja/.jinja2 is Jinja."""
    tree.template(src, "x")
    assert load(tree, f'[template]\nsrc = "{src}"\ndest = "/x"\n').syntax == syntax


def test_syntax_field_overrides_the_name(tree: ConfTree) -> None:
    """`syntax = "jinja"` makes `app.conf` a Jinja template."""
    tree.template("app.conf", "x")
    r = load(tree, '[template]\nsrc = "app.conf"\ndest = "/x"\nsyntax = "jinja"\n')
    assert r.syntax == "jinja"


@pytest.mark.parametrize(
    ("keys_line", "full_keys"),
    [
        ("", ()),
        ("keys = []\n", ()),
        ('keys = [""]\n', ("/app",)),
        ('keys = ["", "/a"]\n', ("/app", "/app/a")),
    ],
    ids=["missing", "empty", "empty-string", "empty-string-and-key"],
)
def test_keys_missing_or_empty_are_accepted_as_confd_does(
    tree: ConfTree, keys_line: str, full_keys: tuple[str, ...]
) -> None:
    """confd accepts no keys (reads nothing) and `""` (path.Join(prefix, ""): the whole prefix)."""
    tree.template("app.tmpl", "x")
    r = load(tree, f'[template]\nsrc = "app.tmpl"\ndest = "/x"\nprefix = "/app"\n{keys_line}')
    assert r.full_keys == full_keys


def test_unknown_field_is_ignored_with_a_warning_naming_file_line_and_field(
    tree: ConfTree,
) -> None:
    """`interval = 5` in a resource loads (confd ignores it); the warning says where."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\ninterval = 5\n')
    assert len(r.warnings) == 1
    assert r.warnings[0].endswith("app.toml:4: interval: unknown field, ignored")


def test_tables_and_fields_outside_template_are_ignored_with_a_warning(tree: ConfTree) -> None:
    """confd reads only [template]: a `[service]` table or a stray top-level field is ignored."""
    tree.template("app.tmpl", "x")
    r = load(tree, 'note = "x"\n[template]\nsrc = "app.tmpl"\ndest = "/x"\n[service]\nname = "a"\n')
    assert len(r.warnings) == 2
    assert "app.toml:1: note: field is outside the [template] table, ignored" in r.warnings[0]
    assert "app.toml:5: unknown table [service], ignored" in r.warnings[1]


def test_field_names_match_regardless_of_case_as_in_confd(tree: ConfTree) -> None:
    """confd's TOML decoder takes `SRC`, `Dest` and `Keys` for src, dest and keys."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nSRC = "app.tmpl"\nDest = "/x"\nKeys = ["/a"]\n')
    assert (r.src.name, r.dest, r.keys, r.warnings) == ("app.tmpl", Path("/x"), ("/a",), ())


def test_relative_dest_is_written_under_the_working_directory(
    tree: ConfTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """confd writes `dest = "output/app.conf"` relative to where it runs; so does confpy, warning."""
    tree.template("app.tmpl", "x")
    monkeypatch.chdir(tree.out)
    r = load(tree, '[template]\nsrc = "app.tmpl"\ndest = "output/app.conf"\n')
    assert r.dest == tree.out / "output" / "app.conf"
    assert any("dest: relative path 'output/app.conf'" in w for w in r.warnings)


def test_absolute_src_is_joined_to_the_templates_directory(tree: ConfTree) -> None:
    """confd's filepath.Join: `src = "/app.tmpl"` is templates/app.tmpl."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nsrc = "/app.tmpl"\ndest = "/x"\n')
    assert r.src == tree.confdir / "templates" / "app.tmpl"


@pytest.mark.parametrize(
    ("mode", "expected"), [("0644", 0o644), ("0o640", 0o640), ("0x1a4", 0o644), ("600", 0o600)]
)
def test_mode_is_read_as_confd_spells_it(tree: ConfTree, mode: str, expected: int) -> None:
    """Go's ParseUint base 0 (`0o640`, `0x1a4`); `600` is read as octal, unlike confd."""
    tree.template("app.tmpl", "x")
    assert (
        load(tree, f'[template]\nsrc = "app.tmpl"\ndest = "/x"\nmode = "{mode}"\n').mode == expected
    )


def test_mode_without_leading_zero_warns_that_confd_reads_it_as_decimal(tree: ConfTree) -> None:
    """confd makes `mode = "600"` decimal 600 (0o1130), and Go's chmod keeps 0o130."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\nmode = "600"\n')
    assert any("confd reads '600' as decimal (the file would get 0130)" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('keys = "/a"', "keys"),
        ('keys = ["/a", 1]', "keys"),
        ('uid = "0"', "uid"),
        ("uid = 1.5", "uid"),
        ("prefix = 5", "prefix"),
        ("check_cmd = 1", "check_cmd"),
        ("mode = 644", "mode"),
    ],
)
def test_a_field_confd_refuses_is_refused(tree: ConfTree, line: str, field: str) -> None:
    """Wrong types confd's decoder refuses ("incompatible types") are refused, naming the field."""
    tree.template("app.tmpl", "x")
    with pytest.raises(ConfigError, match=rf"app.toml:4: {field}: "):
        load(tree, f'[template]\nsrc = "app.tmpl"\ndest = "/x"\n{line}\n')


def test_resources_in_subdirectories_of_conf_d_are_read(tree: ConfTree) -> None:
    """confd walks conf.d recursively for files whose name ends in `toml`."""
    tree.template("app.tmpl", "x")
    sub = tree.confdir / "conf.d" / "site"
    sub.mkdir()
    (sub / "b.toml").write_text('[template]\nsrc = "app.tmpl"\ndest = "/b"\n')
    tree.resource("a", '[template]\nsrc = "app.tmpl"\ndest = "/a"\n')
    assert [r.name for r in load_resources(tree.confdir).resources] == ["a", "site.b"]


def test_a_subdirectory_resource_named_like_another_is_refused(tree: ConfTree) -> None:
    """`conf.d/site/b.toml` is resource `site.b`; a `conf.d/site.b.toml` beside it is refused
    (names key logs, /healthz and each's manifest: they must be unique)."""
    tree.template("app.tmpl", "x")
    (tree.confdir / "conf.d" / "site").mkdir()
    (tree.confdir / "conf.d" / "site" / "b.toml").write_text(
        '[template]\nsrc = "app.tmpl"\ndest = "/b"\n'
    )
    tree.resource("site.b", '[template]\nsrc = "app.tmpl"\ndest = "/c"\n')
    result = load_resources(tree.confdir)
    assert [r.name for r in result.resources] == ["site.b"]
    assert "resource name site.b is also" in str(result.errors[0])


def test_unknown_owner_loads_and_fails_only_at_install(tree: ConfTree) -> None:
    """`owner = "haproxy"` on a machine without that user: a warning at load, one line at
    install for that file (not a refusal of the whole confdir)."""
    tree.template("app.tmpl", "x")
    r = load(
        tree, f'[template]\nsrc = "app.tmpl"\ndest = "{tree.out}/f"\nowner = "no-such-user-x"\n'
    )
    assert any("owner: no such user 'no-such-user-x' on this machine" in w for w in r.warnings)
    with pytest.raises(InstallError, match="owner: no such user 'no-such-user-x'"):
        desired_state(r, b"x")


def test_unknown_owner_fails_that_resource_and_renders_the_others(
    confpy: Confpy, tree: ConfTree
) -> None:
    """One resource with a missing group fails with one line; its neighbour is written."""
    good = tree.simple("good", "ok", ["/a"])
    bad = tree.simple("bad", "no", ["/a"], extra='group = "no-such-group-x"\n')
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode != 0 and result.returncode != 2, result.stderr
    assert good.read_text() == "ok" and not bad.exists()
    said = [line for line in result.stderr.splitlines() if "no-such-group-x" in line]
    assert any("group: no such group 'no-such-group-x' on this machine" in s for s in said)


def test_check_reports_warnings_and_what_confd_would_do_differently(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """check passes a file confd accepts, and lists the warnings and the confd differences."""
    out = checked(
        tmp_path,
        confpy_offline,
        ("haproxy.cfg", '{{ getv "/a" }}'),
        '[template]\nsrc = "haproxy.cfg"\ndest = "/x"\nmode = "644"\ninterval = 5\n'
        'owner = "no-such-user-x"\nwait = "1s:2s"\n',
    )
    assert "app.toml:4: mode: confd reads '644' as decimal (the file would get 0204)" in out
    assert "app.toml:5: interval: unknown field, ignored" in out
    assert "app.toml:6: owner: no such user 'no-such-user-x'" in out
    assert "not as confd: " in out and "owner: confd ignores this field" in out
    assert "wait: confpy's own fields, which confd ignores" in out


def test_check_passes_a_confd_file_without_keys(tmp_path: Path, confpy_offline: Confpy) -> None:
    """A published resource without `keys` and with a `.conf` Go template passes check."""
    out = checked(
        tmp_path,
        confpy_offline,
        ("nginx.conf", 'listen {{ getenv "PORT" }};'),
        '[template]\nsrc = "nginx.conf"\ndest = "/etc/nginx/nginx.conf"\n',
    )
    assert "1 resources OK" in out and "warning" not in out


@pytest.mark.parametrize(
    "name", ['"a\\nb"', '"\\u001b[31mred"', '"x; rm -rf /"', '"' + "k" * 5000 + '"']
)
def test_a_hostile_unknown_field_name_is_one_printable_line(tree: ConfTree, name: str) -> None:
    """A field name holding a newline, an escape sequence or 5,000 characters still makes
    one short printable warning line."""
    tree.template("app.tmpl", "x")
    r = load(tree, f'[template]\nsrc = "app.tmpl"\ndest = "/x"\n{name} = 1\n[{name}]\ny = 2\n')
    assert len(r.warnings) == 2
    for warning in r.warnings:
        assert warning.isprintable() and len(warning) < 400, warning


def test_check_prints_warnings_even_when_another_file_is_refused(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """Everything at once: one file's unknown field is reported beside another's error."""
    tree = ConfTree(tmp_path)
    tree.template("a.tmpl", "x")
    tree.resource("a", '[template]\nsrc = "a.tmpl"\ndest = "/a"\ninterval = 5\n')
    tree.resource("b", '[template]\nsrc = "a.tmpl"\ndest = "/b"\nkeys = "/k"\n')
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    assert "a.toml:4: interval: unknown field, ignored" in result.stdout
    assert "b.toml:4: keys: must be an array" in result.stderr


def test_uid_and_gid_minus_one_mean_unset_as_in_confd(tree: ConfTree) -> None:
    """confd starts uid and gid at -1 to mean "not set": written out, they stay unset (not an
    id to chown to, which would make every run see the file as changed)."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\nuid = -1\ngid = -1\n')
    assert (r.uid, r.gid) == (None, None)


def test_a_negative_uid_other_than_minus_one_is_refused(tree: ConfTree) -> None:
    """uid = -2 is no user: refused at load naming the field."""
    tree.template("app.tmpl", "x")
    with pytest.raises(ConfigError, match=r"app.toml:4: uid: must be 0 or more"):
        load(tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\nuid = -2\n')


def test_a_byte_order_mark_and_crlf_lines_are_read_as_confd_reads_them(tree: ConfTree) -> None:
    """A resource saved by a Windows editor (BOM, CRLF) loads, as it does in confd."""
    tree.template("app.tmpl", "x")
    path = tree.confdir / "conf.d" / "app.toml"
    path.write_bytes(
        b'\xef\xbb\xbf[template]\r\nsrc = "app.tmpl"\r\ndest = "/x"\r\nmode = "0640"\r\n'
    )
    r = load_resource(path, tree.confdir / "templates")
    assert (r.dest, r.mode) == (Path("/x"), 0o640)


def test_an_empty_command_is_no_command_as_in_confd(tree: ConfTree) -> None:
    """confd runs check_cmd and reload_cmd only when they are not "": so does confpy."""
    tree.template("app.tmpl", "x")
    r = load(tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\ncheck_cmd = ""\nreload_cmd = " "\n')
    assert (r.check_cmd, r.reload_cmd) == (None, None)


def test_a_missing_src_is_one_line_per_missing_field(tree: ConfTree) -> None:
    """`[template]` alone: src and dest are missing, two lines, and no empty third one."""
    tree.resource("app", "[template]\n")
    errors = [str(e) for e in load_resources(tree.confdir).errors]
    assert [e.split(": ", 1)[1] for e in errors] == [
        "src: required field is missing",
        "dest: required field is missing",
    ]


def test_check_says_what_confd_does_with_a_check_cmd_template(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """confd runs check_cmd through text/template with only `.src`: check names `{{.dest}}`
    (confd prints `<no value>`) and any other action (confpy substitutes only the two)."""
    out = checked(
        tmp_path,
        confpy_offline,
        ("a.tmpl", "x"),
        '[template]\nsrc = "a.tmpl"\ndest = "/a"\n'
        'check_cmd = "cmp {{ .src }} {{.dest}} {{ printf \\"%s\\" .src }}"\n',
    )
    assert "check_cmd: confd has no {{.dest}}" in out
    assert "check_cmd: confd runs it through Go's text/template" in out


def test_a_global_prefix_of_slash_replaces_a_go_resource_prefix_as_in_confd(
    tree: ConfTree,
) -> None:
    """confd's `-prefix /` is set (not empty): the resource's own `prefix = "app"` is replaced
    and keys are read from the root (measured: confd renders the root's /host)."""
    tree.template("app.tmpl", "x")
    r = load(
        tree, '[template]\nsrc = "app.tmpl"\ndest = "/x"\nprefix = "app"\nkeys = ["/host"]\n', "/"
    )
    assert (r.prefix, r.full_keys) == ("", ("/host",))


# Resource files confd master accepts, each with what makes it unusual; rendered end to end
# by confd and by `confpy confd` (file backend) in one run each, byte for byte and mode.
ACCEPTED_AS_IN_CONFD = {
    "keys-empty-string": 'keys = [""]\nprefix = "app"\n',
    "keys-empty": "keys = []\n",
    "keys-missing": "",
    "case-folded": None,  # written below: SRC, Dest, Keys
    "unknown-field-and-table": 'keys = ["/host"]\ninterval = 5\n[extra]\nx = 1\n',
    "mode-0o": 'keys = ["/host"]\nmode = "0o600"\n',
    "mode-underscore": 'keys = ["/host"]\nmode = "0_640"\n',
    "mode-empty": 'keys = ["/host"]\nmode = ""\n',
    "uid-gid-unset": 'keys = ["/host"]\nuid = -1\ngid = -1\n',
    "empty-commands": 'keys = ["/host"]\ncheck_cmd = ""\nreload_cmd = ""\n',
    "check-cmd-src": 'keys = ["/host"]\ncheck_cmd = "test -s {{.src}}"\n',
    "check-cmd-fails": 'keys = ["/host"]\ncheck_cmd = "false"\n',
    "prefix-slashes": 'keys = ["/host"]\nprefix = "/app/"\n',
    "relative-key": 'keys = ["host"]\nprefix = "app"\n',
}


@pytest.mark.skipif(not confd_available(), reason=f"the confd binary is absent ({CONFD})")
def test_resource_files_confd_accepts_render_as_confd_renders_them(tmp_path: Path) -> None:
    """Each oddity confd accepts in a resource file gives, under `confpy confd`, the file
    confd gives (content and mode), or none where confd writes none."""
    outputs = {}
    for tool, argv in (
        ("confd", [str(CONFD)]),
        ("confpy", [sys.executable, "-m", "confpy", "confd"]),
    ):
        root = tmp_path / tool
        (root / "conf.d").mkdir(parents=True)
        (root / "templates").mkdir()
        (root / "out").mkdir()
        (root / "templates" / "a.tmpl").write_text('{{ getv "/host" }}\n')
        (root / "data.yaml").write_text("app:\n  host: in-app\nhost: at-root\n")
        for name, body in ACCEPTED_AS_IN_CONFD.items():
            dest = root / "out" / name
            text = (
                f'[template]\nSRC = "a.tmpl"\nDest = "{dest}"\nKeys = ["/host"]\n'
                if body is None
                else f'[template]\nsrc = "a.tmpl"\ndest = "{dest}"\n{body}'
            )
            (root / "conf.d" / f"{name}.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
        subprocess.run(
            [*argv, "-onetime", "-backend", "file", "-file", str(root / "data.yaml"),
             "-confdir", str(root), "-log-level", "panic"],
            capture_output=True, timeout=60, check=False, cwd=root,
        )  # fmt: skip
        outputs[tool] = {
            p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in (root / "out").iterdir()
        }
    assert outputs["confpy"] == outputs["confd"]
    assert len(outputs["confd"]) == len(ACCEPTED_AS_IN_CONFD) - 3  # keys empty/missing, false
