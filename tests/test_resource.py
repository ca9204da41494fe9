"""Reading confd-format template resources: what is accepted and how mistakes are reported."""

from pathlib import Path

import pytest

from confpy.config.resource import load_resource, load_resources
from confpy.errors import ConfigError
from tests.helpers import ConfTree


@pytest.fixture
def tree(tmp_path: Path) -> ConfTree:
    t = ConfTree(tmp_path)
    t.template("app.j2", "x")
    return t


def load(tree: ConfTree, body: str, prefix: str = ""):  # type: ignore[no-untyped-def]
    path = tree.resource("app", body)
    return load_resource(path, tree.confdir / "templates", prefix)


def test_confd_resource_file_is_read_unchanged(tree: ConfTree) -> None:
    """Every confd field is understood with confd's meaning."""
    r = load(
        tree,
        """
[template]
src = "app.j2"
dest = "/etc/app.conf"
keys = ["/app/host", "port"]
prefix = "/prod"
mode = "0640"
uid = 0
gid = 0
check_cmd = "app -t {{.src}}"
reload_cmd = "systemctl reload app"
""",
    )
    assert r.dest == Path("/etc/app.conf")
    assert r.full_keys == ("/prod/app/host", "/prod/port")
    assert r.mode == 0o640 and (r.uid, r.gid) == (0, 0)
    assert r.check_cmd == "app -t {{.src}}"


def test_global_prefix_is_joined_before_the_resource_prefix(tree: ConfTree) -> None:
    """`--prefix /site` + `prefix = "app"` + key `/host` reads `/site/app/host`."""
    r = load(
        tree, '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/host"]\nprefix = "app"\n', "/site"
    )
    assert r.full_keys == ("/site/app/host",)


def test_global_prefix_replaces_a_go_resource_prefix(tree: ConfTree) -> None:
    """As in confd, `-prefix /site` replaces a confd resource's own `prefix = "app"`."""
    tree.template("app.tmpl", "")
    r = load(
        tree,
        '[template]\nsrc = "app.tmpl"\ndest = "/x"\nkeys = ["/host"]\nprefix = "app"\n',
        "/site",
    )
    assert r.full_keys == ("/site/host",)


def test_command_given_as_array_is_kept_as_arguments(tree: ConfTree) -> None:
    """An array command runs without a shell."""
    r = load(
        tree,
        '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nreload_cmd = ["kill", "-HUP", "1"]\n',
    )
    assert r.reload_cmd == ("kill", "-HUP", "1")


def test_owner_and_group_resolve_by_name(tree: ConfTree) -> None:
    """owner and group are user and group names."""
    r = load(
        tree,
        '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nowner = "root"\ngroup = "root"\n',
    )
    assert (r.uid, r.gid) == (0, 0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = "/a"\n',
            "app.toml:4: keys: must be an array",
        ),
        ('[template]\ndest = "/x"\nkeys = ["/a"]\n', "app.toml: src: required field is missing"),
        (
            '[template]\nsrc = "nope.j2"\ndest = "/x"\nkeys = ["/a"]\n',
            "app.toml:2: src: template file .*nope.j2 does not exist",
        ),
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nmode = "rw-r--r--"\n',
            "app.toml:5: mode: must be an octal string",
        ),
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nuid = "root"\n',
            "app.toml:5: uid: must be an integer, not str",
        ),
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nmode = 644\n',
            'app.toml:5: mode: write the mode as an octal string, e.g. mode = "0644"',
        ),
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nvalidate = "xml"\n',
            "app.toml:5: validate: must be one of json, yaml, toml",
        ),
        (
            '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nreload_signal = "HUP"\n',
            "reload_signal: needs pidfile",
        ),
        ('[template\nsrc = "app.j2"\n', r"app.toml:1: invalid TOML"),
        ('src = "app.j2"\n', r"app.toml: missing \[template\] table"),
    ],
    ids=[
        "wrong-type",
        "missing-src",
        "missing-template",
        "bad-mode",
        "uid-type",
        "integer-mode",
        "bad-validate",
        "signal-without-pidfile",
        "malformed-toml",
        "no-template-table",
    ],
)
def test_bad_resource_is_reported_with_file_line_and_field(
    tree: ConfTree, body: str, expected: str
) -> None:
    """Each mistake is one ConfigError naming the file, the line where known, and the field."""
    with pytest.raises(ConfigError, match=expected) as e:
        load(tree, body)
    assert "\n" not in str(e.value)


def test_load_resources_collects_every_problem(tree: ConfTree) -> None:
    """One run reports all broken files, not only the first."""
    tree.resource("a", '[template]\nsrc = "app.j2"\n')
    tree.resource("b", '[template]\nsrc = "app.j2"\ndest = "/b"\nkeys = ["/k"]\nmode = "rw"\n')
    tree.resource("c", '[template]\nsrc = "app.j2"\ndest = "/c"\nkeys = ["/k"]\n')
    result = load_resources(tree.confdir)
    assert [r.name for r in result.resources] == ["c"]
    assert len(result.errors) == 2


def test_two_resources_writing_one_destination_is_an_error(tree: ConfTree) -> None:
    """A destination has exactly one owner."""
    tree.resource("a", '[template]\nsrc = "app.j2"\ndest = "/same"\nkeys = ["/k"]\n')
    tree.resource("b", '[template]\nsrc = "app.j2"\ndest = "/same"\nkeys = ["/k"]\n')
    result = load_resources(tree.confdir)
    assert any("also written by" in str(e) for e in result.errors)


def test_missing_conf_d_is_reported(tmp_path: Path) -> None:
    """Pointing at an empty directory says what is missing."""
    result = load_resources(tmp_path)
    assert "conf.d" in str(result.errors[0])


@pytest.mark.parametrize("src", ["../../etc/passwd", "sub/../../app.j2"])
def test_src_outside_the_templates_directory_is_refused(tree: ConfTree, src: str) -> None:
    """A resource renders templates from templates/ only, never /etc/passwd."""
    with pytest.raises(ConfigError, match=r"app.toml:2: src: must name a file under .*templates"):
        load(tree, f'[template]\nsrc = "{src}"\ndest = "/x"\nkeys = ["/a"]\n')


@pytest.mark.parametrize("mode", ["7777", "4755", "2755", "1644", "0666", "0777"])
def test_setuid_setgid_sticky_and_world_writable_modes_are_refused(
    tree: ConfTree, mode: str
) -> None:
    """A config file is never setuid, setgid, sticky or writable by every local user."""
    with pytest.raises(ConfigError, match=rf"app.toml:5: mode: {mode}: "):
        load(tree, f'[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = ["/a"]\nmode = "{mode}"\n')


def test_every_problem_of_one_file_is_reported(tree: ConfTree) -> None:
    """Not only the first: each wrong field of the file gets its own line."""
    tree.resource(
        "app",
        '[template]\nsrc = "app.j2"\ndest = ""\nkeys = ["/a", 1]\n'
        'mode = "7777"\nbogus = 1\nuid = "root"\n',
    )
    result = load_resources(tree.confdir)
    messages = sorted(str(e) for e in result.errors)
    assert len(messages) == 4, messages
    assert [m.split(": ")[1] for m in messages] == ["dest", "keys", "mode", "uid"]


def test_one_destination_spelled_two_ways_is_one_destination(tree: ConfTree) -> None:
    """`out/../out/f` is `out/f`: the duplicate check compares resolved paths."""
    out = tree.out
    tree.resource("a", f'[template]\nsrc = "app.j2"\ndest = "{out}/f"\nkeys = ["/k"]\n')
    tree.resource("b", f'[template]\nsrc = "app.j2"\ndest = "{out}/../out/f"\nkeys = ["/k"]\n')
    result = load_resources(tree.confdir)
    assert [r.name for r in result.resources] == ["a"]
    assert any("also written by" in str(e) and "b.toml:3" in str(e) for e in result.errors)


def test_one_destination_through_a_symlinked_directory_is_one_destination(tree: ConfTree) -> None:
    (tree.root / "link").symlink_to(tree.out, target_is_directory=True)
    tree.resource("a", f'[template]\nsrc = "app.j2"\ndest = "{tree.out}/f"\nkeys = ["/k"]\n')
    tree.resource("b", f'[template]\nsrc = "app.j2"\ndest = "{tree.root}/link/f"\nkeys = ["/k"]\n')
    result = load_resources(tree.confdir)
    assert [r.name for r in result.resources] == ["a"]
    assert any(f"(both are {tree.out}/f)" in str(e) for e in result.errors)
