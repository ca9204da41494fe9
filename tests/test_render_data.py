"""`confpy render --onetime --data FILE [--stdout]`: templates rendered from fixtures, no etcd."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from confpy.errors import ConfigError
from confpy.store.datafile import load_data
from tests.conftest import Confpy
from tests.helpers import ConfTree

NOWHERE = "http://127.0.0.1:9"
"""An endpoint nothing listens on: a test passes only if etcd is never contacted."""


@pytest.fixture
def tree(tmp_path: Path) -> ConfTree:
    t = ConfTree(tmp_path)
    t.simple(
        "b-app", "db={{ getv('/app/db/host') }} port={{ getv('/app/db/port') }}\n", ["/app/db"]
    )
    t.template("vhost.j2", "{{ each.name }} -> {{ getv(each.key + '/host') }}")
    t.resource(
        "a-vhosts",
        '[template]\nsrc = "vhost.j2"\neach = "/app/services/*"\ndest = "{out}/{{ name }}.conf"\n',
    )
    return t


def run(
    confpy_offline: Confpy, tree: ConfTree, data: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--data",
        str(data),
        *extra,
        env=confpy_offline.env(CONFPY_ENDPOINTS=NOWHERE),
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


NESTED_YAML = """\
app:
  db: {host: db1, port: 5432}
  services:
    web: {host: 10.0.0.2}
    api:
      host: 10.0.0.1
"""

FLAT_JSON = """{
  "/app/db/host": "db1",
  "/app/db/port": 5432,
  "/app/services/api/host": "10.0.0.1",
  "/app/services/web/host": "10.0.0.2"
}
"""


def test_stdout_prints_every_file_in_confd_order_under_headers(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """conf.d order (a-vhosts before b-app), each's files by name; a missing final newline is added."""
    result = run(confpy_offline, tree, write(tmp_path, "d.yaml", NESTED_YAML), "--stdout")
    assert result.returncode == 0, result.stderr
    out = tree.out
    assert result.stdout == (
        f"==> {out}/api.conf <==\napi -> 10.0.0.1\n"
        f"==> {out}/web.conf <==\nweb -> 10.0.0.2\n"
        f"==> {out}/b-app <==\ndb=db1 port=5432\n"
    )
    assert list(out.iterdir()) == []


def test_flat_json_and_nested_yaml_render_the_same(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """`"/app/db/host"` and `app: {db: {host: }}` are the same key."""
    nested = run(confpy_offline, tree, write(tmp_path, "d.yaml", NESTED_YAML), "--stdout")
    flat = run(confpy_offline, tree, write(tmp_path, "d.json", FLAT_JSON), "--stdout")
    assert flat.returncode == nested.returncode == 0, flat.stderr + nested.stderr
    assert flat.stdout == nested.stdout


def test_data_without_stdout_installs_the_files(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """Without --stdout, --data renders and installs as a normal --onetime run would."""
    result = run(confpy_offline, tree, write(tmp_path, "d.json", FLAT_JSON))
    assert result.returncode == 0, result.stderr
    assert (tree.out / "b-app").read_text() == "db=db1 port=5432\n"
    assert (tree.out / "api.conf").read_text() == "api -> 10.0.0.1"


def test_golden_file_recipe_detects_a_change(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """The CI recipe: output equal to the golden file passes `diff`; a template change fails it."""
    data = write(tmp_path, "d.yaml", NESTED_YAML)
    golden = write(tmp_path, "golden.txt", run(confpy_offline, tree, data, "--stdout").stdout)
    same = subprocess.run(
        ["diff", "-u", str(golden), "-"],
        input=run(confpy_offline, tree, data, "--stdout").stdout,
        capture_output=True,
        text=True,
    )
    assert same.returncode == 0
    tree.template("vhost.j2", "{{ each.name }} => {{ getv(each.key + '/host') }}")
    changed = subprocess.run(
        ["diff", "-u", str(golden), "-"],
        input=run(confpy_offline, tree, data, "--stdout").stdout,
        capture_output=True,
        text=True,
    )
    assert changed.returncode == 1 and "+api => 10.0.0.1" in changed.stdout


def test_missing_key_fails_the_file_and_prints_the_others(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """Exit 1 as render would; the error names the key; the files that render are printed."""
    result = run(
        confpy_offline, tree, write(tmp_path, "d.yaml", "app: {db: {host: db1}}\n"), "--stdout"
    )
    assert result.returncode == 1
    assert "key not found: /app/db/port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("bad.json", '{\n  "/a": "x",\n  "/b": \n}\n', 4, "invalid JSON"),
        ("bad.yaml", "a:\n  b: [1,\n", 3, "invalid YAML"),
        ("list.yaml", "a:\n  b:\n    - 1\n", 3, "key /a/b: a list is not a value"),
        ("null.yaml", "a:\n  b:\n", 2, "key /a/b: null is not a value"),
        ("twice.json", '{"/a/b": "1",\n "a": {"b": "2"}}', 2, "key /a/b is defined twice"),
        ("dup.yaml", "a: 1\nb: 2\na: 3\n", 3, "key 'a' appears twice"),
        ("binary.yaml", "a: !!binary '%%%'\n", 1, "invalid !!binary"),
    ],
)
def test_malformed_data_is_one_line_naming_file_and_line(
    confpy_offline: Confpy,
    tree: ConfTree,
    tmp_path: Path,
    name: str,
    text: str,
    line: int,
    message: str,
) -> None:
    """Exit 2, one line `FILE:LINE: --data: ...`, nothing written."""
    path = write(tmp_path, name, text)
    result = run(confpy_offline, tree, path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"confpy: error: {path}:{line}: --data: "), result.stderr
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert list(tree.out.iterdir()) == []


def test_a_key_may_be_a_value_and_a_directory(tmp_path: Path) -> None:
    """As in etcd, `/a` can hold a value while `/a/b` exists below it."""
    path = write(tmp_path, "d.json", '{"/a": "top", "a": {"b": "below"}}')
    assert load_data(path) == {"/a": b"top", "/a/b": b"below"}


def test_yaml_binary_values_stay_raw_bytes(tmp_path: Path) -> None:
    """`!!binary` is how a fixture holds a non-UTF-8 value, e.g. a DER key."""
    path = write(tmp_path, "d.yaml", "k: !!binary /wA=\n")
    assert load_data(path) == {"/k": b"\xff\x00"}


def test_scalars_keep_the_text_they_were_written_as(tmp_path: Path) -> None:
    """`1.10`, `yes` and `0755` are stored as written, as `etcdctl put` would."""
    path = write(tmp_path, "d.yaml", "v: 1.10\nb: yes\nm: 0755\n")
    assert load_data(path) == {"/v": b"1.10", "/b": b"yes", "/m": b"0755"}


def test_json_numbers_keep_their_text(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", '{"v": 1.10, "t": true}')
    assert load_data(path) == {"/v": b"1.10", "/t": b"true"}


def test_messages_never_contain_a_value(tmp_path: Path) -> None:
    """A fixture mistake names the key, not the (possibly secret) value beside it."""
    path = write(tmp_path, "d.yaml", "tls:\n  key: SECRET-PEM\n  list: [SECRET-ITEM]\n")
    with pytest.raises(ConfigError) as e:
        load_data(path)
    assert "SECRET" not in str(e.value) and "/tls/list" in str(e.value)


def test_data_is_for_onetime_only(confpy_offline: Confpy, tree: ConfTree, tmp_path: Path) -> None:
    """--data with --watch: exit 2, naming the flag."""
    path = write(tmp_path, "d.yaml", NESTED_YAML)
    result = confpy_offline.run(
        "render",
        "--watch",
        "--confdir",
        str(tree.confdir),
        "--data",
        str(path),
        env=confpy_offline.env(CONFPY_ENDPOINTS=NOWHERE),
    )
    assert result.returncode == 2
    assert "--data works with --onetime only" in result.stderr
