"""`confpy render --onetime` as a user runs it, against a real etcd."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.store import EtcdStore
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree, mode_of

pytestmark = pytest.mark.etcd


def render(confpy: Confpy, tree: ConfTree, *extra: str) -> subprocess.CompletedProcess[str]:
    return confpy.run("render", "--onetime", "--confdir", str(tree.confdir), *extra)


def one_error_line(stderr: str) -> str:
    """The human-readable error lines (JSON log lines aside); asserts there is no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("confpy: error:")]
    assert lines, stderr
    return lines[0]


def test_renders_files_from_etcd(confpy: Confpy, tree: ConfTree, store: EtcdStore) -> None:
    """Keys in etcd become a file; exit 0."""
    dest = tree.simple("app", "host={{ getv('/db/host') }}\n", ["/db"])
    store.put("/db/host", b"db1")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "host=db1\n"


def test_confd_resource_with_jinja_template_renders_unchanged(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A confd conf.d file (prefix, keys, mode, check_cmd in confd syntax) works as is."""
    tree.template(
        "nginx.conf.j2", "{% for u in gets('/upstream/*') %}server {{ u.Value }};\n{% endfor %}"
    )
    tree.resource(
        "nginx",
        """
[template]
prefix = "/myapp"
src = "nginx.conf.j2"
dest = "{out}/nginx.conf"
owner = "root"
mode = "0640"
keys = [
  "/upstream",
]
check_cmd = "test -s {{.src}}"
reload_cmd = "true"
""",
    )
    store.put("/myapp/upstream/a", b"10.0.0.1:80")
    store.put("/myapp/upstream/b", b"10.0.0.2:80")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert (tree.out / "nginx.conf").read_text() == "server 10.0.0.1:80;\nserver 10.0.0.2:80;\n"
    assert mode_of(tree.out / "nginx.conf") == 0o640


def test_wait_for_keys_waits_until_the_key_appears(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """--wait-for-keys replaces `until confd -onetime; do sleep 5; done`."""
    dest = tree.simple("app", "{{ getv('/elasticsearch/host') }}", ["/elasticsearch"])
    proc = confpy.start(
        "render", "--onetime", "--confdir", str(tree.confdir), "--wait-for-keys", "60s"
    )
    try:
        wait_for(
            lambda: "waiting for keys" in (proc.stderr.readline() if proc.stderr else ""),
            timeout=20,
            what="confpy to report the missing key",
        )
        assert proc.poll() is None
        store.put("/elasticsearch/host", b"10.0.0.5")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.communicate()
    assert dest.read_text() == "10.0.0.5"


def test_wait_for_keys_running_out_exits_3_naming_the_key(confpy: Confpy, tree: ConfTree) -> None:
    """When time runs out the missing keys are named and the exit code is 3."""
    tree.simple("app", "{{ getv('/never') }}", ["/never"])
    result = render(confpy, tree, "--wait-for-keys", "1s")
    assert result.returncode == 3
    assert "keys missing in etcd: /never" in one_error_line(result.stderr)


def test_unreachable_etcd_exits_3_with_one_line(tree: ConfTree, confpy_offline: Confpy) -> None:
    """No etcd at the endpoint: a clear error, exit 3, destination untouched."""
    dest = tree.simple("app", "x", ["/a"])
    dest.write_text("old")
    result = confpy_offline.run(
        "render",
        "--onetime",
        "--confdir",
        str(tree.confdir),
        "--endpoints",
        "http://127.0.0.1:9",
        "--wait-for-keys",
        "1s",
    )
    assert result.returncode == 3
    assert "etcd unavailable" in one_error_line(result.stderr)
    assert dest.read_text() == "old"


def test_malformed_toml_exits_2_naming_file_and_line(confpy: Confpy, tree: ConfTree) -> None:
    """A broken resource file stops the run before anything is written."""
    dest = tree.simple("app", "x", ["/a"])
    dest.write_text("old")
    tree.resource("broken", '[template]\nsrc = "app.j2"\ndest = "/x"\nkeys = [\n')
    result = render(confpy, tree)
    assert result.returncode == 2
    assert "broken.toml:4: invalid TOML" in one_error_line(result.stderr)
    assert dest.read_text() == "old"


def test_unknown_field_is_ignored_with_one_warning_naming_it(
    confpy: Confpy, tree: ConfTree
) -> None:
    """As confd, an unknown field is ignored (the file renders); unlike confd, one log line
    names the file, line and field, with the likely typo."""
    dest = tree.simple("app", "x", ["/a"], extra='relaod_cmd = "true"\n')
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "x"
    said = [line for line in result.stderr.splitlines() if "relaod_cmd" in line]
    assert len(said) == 1, result.stderr
    assert "app.toml:5: relaod_cmd: unknown field, ignored (did you mean 'reload_cmd'?)" in said[0]


def test_template_syntax_error_exits_2_naming_file_and_line(confpy: Confpy, tree: ConfTree) -> None:
    """A template that does not compile is refused before etcd is read."""
    dest = tree.simple("app", "line1\n{{ getv('/a') \n", ["/a"])
    dest.write_text("old")
    result = render(confpy, tree)
    assert result.returncode == 2
    assert "app.j2:2:" in one_error_line(result.stderr)
    assert dest.read_text() == "old"


def test_missing_key_exits_1_naming_key_template_and_line(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Without --wait-for-keys a missing key fails that resource only."""
    dest = tree.simple("app", "a\n{{ getv('/db/host') }}\n", ["/db"])
    dest.write_text("old")
    other = tree.simple("other", "{{ getv('/x') }}", ["/x"])
    store.put("/x", b"fine")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "app.j2:2: key not found: /db/host" in one_error_line(result.stderr)
    assert dest.read_text() == "old"
    assert other.read_text() == "fine"


def test_value_not_utf8_is_written_as_the_same_bytes(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A binary value is copied byte for byte, as confd writes it (POLICY: bytes and text)."""
    dest = tree.simple("app", "<{{ getv('/bin') }}>", ["/bin"])
    store.put("/bin", b"\xff\xfe\x00")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == b"<\xff\xfe\x00>"


def test_value_not_utf8_under_a_shared_prefix_blocks_no_render(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Whoever can write under a shared prefix cannot fail every resource reading it."""
    dest = tree.simple("app", "{{ getv('/shared/host') }}", ["/shared"])
    store.put("/shared/host", b"db1")
    store.put("/shared/junk", b"\xff\xfe")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "db1"


def test_unwritable_destination_directory_exits_1(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A destination directory confpy may not write into is reported, not a traceback."""
    tree.template("app.j2", "x")
    locked = tree.out / "locked"
    locked.mkdir()
    tree.resource("app", f'[template]\nsrc = "app.j2"\ndest = "{locked}/app"\nkeys = ["/a"]\n')
    store.put("/a", b"1")
    with read_only(locked):
        result = render(confpy, tree)
    assert result.returncode == 1, result.stderr
    assert "cannot create a stage file" in one_error_line(result.stderr)
    assert not (locked / "app").exists()


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Root ignores permission bits, so as root use a read-only bind mount instead."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        yield
        os.chmod(directory, 0o755)
        return
    if subprocess.run(
        ["mount", "--bind", "-o", "ro", str(directory), str(directory)], capture_output=True
    ).returncode:
        pytest.skip("cannot make a read-only bind mount here")
    try:
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def test_failing_check_exits_1_and_keeps_the_old_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """check_cmd rejecting the staged file keeps the destination as it was."""
    dest = tree.simple(
        "app", "{{ getv('/a') }}", ["/a"], extra='check_cmd = "grep -q good {{ src }}"\n'
    )
    dest.write_text("old")
    store.put("/a", b"bad")
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "check_cmd exited 1" in one_error_line(result.stderr)
    assert dest.read_text() == "old"


def test_failing_reload_exits_1_and_next_run_does_not_reinstall(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A reload failure is reported with status and output; the file stays; a rerun is a no-op."""
    count = tree.root / "reloads"
    dest = tree.simple(
        "app",
        "{{ getv('/a') }}",
        ["/a"],
        extra=f'reload_cmd = "echo x >> {count}; echo busy >&2; exit 7"\n',
    )
    store.put("/a", b"new")
    first = render(confpy, tree)
    assert first.returncode == 1
    assert "reload_cmd exited 7: busy" in one_error_line(first.stderr)
    assert dest.read_text() == "new"
    second = render(confpy, tree)
    assert second.returncode == 0, second.stderr
    assert count.read_text() == "x\n"


def test_noop_prints_diff_and_writes_nothing(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """--noop shows what would change."""
    dest = tree.simple("app", "port={{ getv('/port') }}\n", ["/port"])
    dest.write_text("port=1\n")
    store.put("/port", b"2")
    result = render(confpy, tree, "--noop")
    assert result.returncode == 0, result.stderr
    assert "-port=1\n+port=2\n" in result.stdout
    assert dest.read_text() == "port=1\n"


def test_sync_only_skips_check_and_reload(confpy: Confpy, tree: ConfTree, store: EtcdStore) -> None:
    """--sync-only installs without running commands."""
    dest = tree.simple(
        "app", "{{ getv('/a') }}", ["/a"], extra='check_cmd = "false"\nreload_cmd = "false"\n'
    )
    store.put("/a", b"v")
    result = render(confpy, tree, "--sync-only")
    assert result.returncode == 0, result.stderr
    assert dest.read_text() == "v"


def test_logs_name_resources_and_never_values(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """JSON log lines carry resource, dest and revision, and never a secret value."""
    tree.simple("key", "{{ getv('/tls/key') }}", ["/tls"], extra='mode = "0600"\n')
    store.put("/tls/key", b"-----BEGIN PRIVATE KEY-----SECRET")
    result = render(confpy, tree, "--log-level", "debug")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    installed = [e for e in events if e["event"] == "installed"]
    assert installed and installed[0]["resource"] == "key" and installed[0]["revision"] > 0
    assert "SECRET" not in result.stderr
    assert mode_of(tree.out / "key") == 0o600


def test_validate_json_refuses_broken_output(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """validate = "json": a broken render never replaces a good file."""
    dest = tree.simple(
        "app", '{"servers": [{{ getv("/s") }}]}', ["/s"], extra='validate = "json"\n'
    )
    dest.write_text('{"servers": []}')
    store.put("/s", b'"a", oops')
    result = render(confpy, tree)
    assert result.returncode == 1
    assert "not valid JSON" in one_error_line(result.stderr)
    assert dest.read_text() == '{"servers": []}'


def test_unsafe_configuration_is_refused_before_anything_is_written(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A setuid mode or a src outside templates/ is exit 2 with one line; no file is touched."""
    setuid = tree.simple("setuid", "x", ["/a"], extra='mode = "7777"\n')
    tree.resource(
        "passwd",
        f'[template]\nsrc = "../../../../../../etc/passwd"\ndest = "{tree.out}/p"\nkeys = ["/a"]\n',
    )
    store.put("/a", b"1")
    result = render(confpy, tree)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert "Traceback" not in result.stderr and len(errors) == 2, result.stderr
    assert "setuid.toml:5: mode: 7777: setuid, setgid and sticky bits are refused" in errors[1]
    assert "passwd.toml:2: src: must name a file under" in errors[0]
    assert not setuid.exists() and not (tree.out / "p").exists()
