"""`each = "PATTERN"`: one template to many files, and only files it created are removed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from confpy.apply.each import expand
from confpy.apply.manifest import manifest_path
from confpy.config.resource import load_resource
from confpy.store import EtcdStore
from confpy.store.snapshot import Snapshot
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

pytestmark = pytest.mark.etcd

VHOST = "server {{ each.name }} {{ getv(each.key + '/host') }};\n"


def vhosts(tree: ConfTree, template: str = VHOST, extra: str = "", name: str = "vhosts") -> None:
    tree.template(f"{name}.j2", template)
    tree.resource(
        name,
        f"""
[template]
src = "{name}.j2"
dest = "{{out}}/{{{{ name }}}}.conf"
prefix = "/app"
each = "/services/*"
{extra}
""",
    )


def render(confpy: Confpy, tree: ConfTree, *extra: str) -> subprocess.CompletedProcess[str]:
    return confpy.run("render", "--onetime", "--confdir", str(tree.confdir), *extra)


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("confpy: error:")]


def conf_files(tree: ConfTree) -> list[str]:
    return sorted(p.name for p in tree.out.glob("*.conf"))


def listed(tree: ConfTree) -> list[str]:
    return json.loads((tree.out / ".confpy-each.vhosts.json").read_text())["files"]


# -- expansion, without etcd -------------------------------------------------------------------


def resource_for(tree: ConfTree, each: str = "/services/*", prefix: str = "/app"):
    tree.template("t.j2", "x")
    path = tree.resource(
        "t",
        f"""
[template]
src = "t.j2"
dest = "{{out}}/{{{{ name }}}}.conf"
prefix = "{prefix}"
each = "{each}"
""",
    )
    return load_resource(path, tree.confdir / "templates")


def test_a_match_is_a_key_or_a_key_directory_and_only_a_key_has_a_value(tree: ConfTree) -> None:
    """`/services/*` matches the key `/services/a` and the directory `/services/b`."""
    r = resource_for(tree)
    values = {"/app/services/a": b"1", "/app/services/b/host": b"h", "/app/other": b"o"}
    files, failures = expand(r, Snapshot(3, values))
    assert not failures
    matches = [f.match for f in files if f.match is not None]
    assert [(m.key, m.name, m.value) for m in matches] == [
        ("/services/a", "a", "1"),
        ("/services/b", "b", None),
    ]
    assert [f.file.dest.name for f in files] == ["a.conf", "b.conf"]


def test_a_file_sees_its_own_match_not_its_siblings(tree: ConfTree) -> None:
    """Each file's view is its match's subtree plus the resource's keys: thousands of matches
    render in time proportional to their keys, not to their square."""
    r = resource_for(tree)
    values = {"/app/services/a/host": b"1", "/app/services/b/host": b"2"}
    files, _ = expand(r, Snapshot(3, values))
    assert files[0].match is not None
    assert dict(files[0].match.values) == {"/app/services/a/host": b"1"}


@pytest.mark.parametrize(
    "key", ["/app/services/..", "/app/services/.", "/app/services/", "/app/services//x"]
)
def test_a_match_that_cannot_be_a_file_name_is_refused(tree: ConfTree, key: str) -> None:
    """Names `..`, `.` and empty never become paths: the match fails, naming its key."""
    r = resource_for(tree)
    _, failures = expand(r, Snapshot(3, {key: b"v"}))
    assert len(failures) == 1
    message = str(next(iter(failures.values())))
    assert "each refuses" in message and key.rstrip("x").rstrip("/").split("/")[-1] in message


def test_each_needs_name_in_the_dest_file_name(tree: ConfTree) -> None:
    """`{{ name }}` in a directory would put files outside one directory: refused."""
    from confpy.errors import ConfigError

    tree.template("t.j2", "x")
    path = tree.resource(
        "t", '[template]\nsrc = "t.j2"\ndest = "/tmp/{{ name }}/x.conf"\neach = "/s/*"\n'
    )
    with pytest.raises(
        ConfigError, match=r"t.toml:3: dest: \{\{ name \}\} may only appear in the file name"
    ):
        load_resource(path, tree.confdir / "templates")


# -- against etcd ----------------------------------------------------------------------------------


def test_one_file_per_match_with_check_per_file_and_one_reload(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Three services: three files, check_cmd ran three times, reload_cmd once."""
    log = tree.root / "log"
    vhosts(tree, extra=f'check_cmd = "echo check >> {log}"\nreload_cmd = "echo reload >> {log}"')
    for name in ("api", "web", "db"):
        store.put(f"/app/services/{name}/host", f"{name}.internal".encode())
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert conf_files(tree) == ["api.conf", "db.conf", "web.conf"]
    assert (tree.out / "web.conf").read_text() == "server web web.internal;\n"
    assert log.read_text().splitlines() == ["check"] * 3 + ["reload"]
    assert listed(tree) == ["api.conf", "db.conf", "web.conf"]


def test_file_of_a_vanished_match_is_removed_and_reloaded(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Deleting a service's keys removes its file (and only it), then reloads once."""
    log = tree.root / "log"
    vhosts(tree, extra=f'reload_cmd = "echo reload >> {log}"')
    store.put("/app/services/api/host", b"a")
    store.put("/app/services/web/host", b"w")
    (tree.out / "handmade.conf").write_text("mine\n")
    assert render(confpy, tree).returncode == 0
    store.delete("/app/services/web/host")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert conf_files(tree) == ["api.conf", "handmade.conf"]
    assert listed(tree) == ["api.conf"]
    assert log.read_text().splitlines() == ["reload", "reload"]


def test_noop_shows_creations_and_removals_and_writes_nothing(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """--noop prints a diff for a new file and a removal header for a stale one."""
    vhosts(tree)
    store.put("/app/services/old/host", b"o")
    assert render(confpy, tree).returncode == 0
    store.delete("/app/services/old/host")
    store.put("/app/services/new/host", b"n")
    result = render(confpy, tree, "--noop")
    assert result.returncode == 0, result.stderr
    assert f"+++ {tree.out}/new.conf (mode 0644" in result.stdout
    assert "+server new n;" in result.stdout
    assert f"+++ {tree.out}/old.conf (removed: its key is gone)" in result.stdout
    assert conf_files(tree) == ["old.conf"]


def test_bad_match_name_fails_with_its_key_and_the_others_are_written(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A key `/services/..` exits 1 naming the key; no file named `..conf` or worse appears."""
    vhosts(tree, template="{{ each.name }}\n")
    store.put("/app/services/..", b"x")
    store.put("/app/services/ok", b"x")
    result = render(confpy, tree)
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "vhosts: each ..: " in line and "key /app/services/.. gives the file name '..'" in line
    assert conf_files(tree) == ["ok.conf"]


def test_tampered_manifest_never_removes_what_it_does_not_own(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """Entries naming other directories, other patterns or directories are ignored."""
    vhosts(tree)
    victim = tree.root / "victim.conf"
    victim.write_text("keep\n")
    (tree.out / "notes.txt").write_text("keep\n")
    (tree.out / "dir.conf").mkdir()
    (tree.out / "stray.conf").write_text("keep\n")
    store.put("/app/services/api/host", b"a")
    assert render(confpy, tree).returncode == 0
    manifest_path_ = tree.out / ".confpy-each.vhosts.json"
    manifest_path_.write_text(
        json.dumps(
            {
                "files": [
                    "../victim.conf",
                    str(victim),
                    "notes.txt",
                    "dir.conf",
                    "sub/x.conf",
                    "..",
                    ".conf",
                    7,
                ]
            }
        )
    )
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert (
        victim.exists() and (tree.out / "notes.txt").exists() and (tree.out / "dir.conf").is_dir()
    )
    assert (tree.out / "stray.conf").exists()
    assert "each manifest entry ignored" in result.stderr


def test_unreadable_manifest_removes_nothing(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A manifest that is not JSON: nothing is removed; the rewritten one lists only the
    files that still match (identical, so adopted); the stale one is left to the operator."""
    vhosts(tree)
    store.put("/app/services/api/host", b"a")
    store.put("/app/services/web/host", b"w")
    assert render(confpy, tree).returncode == 0
    (tree.out / ".confpy-each.vhosts.json").write_text("{not json")
    store.delete("/app/services/web/host")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert conf_files(tree) == ["api.conf", "web.conf"]
    assert "each manifest unreadable" in result.stderr
    assert listed(tree) == ["api.conf"]


def test_existing_file_it_did_not_create_is_not_overwritten(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A hand-written `api.conf` blocks the match `api` (exit 1) and stays as it was."""
    vhosts(tree)
    (tree.out / "api.conf").write_text("handmade\n")
    store.put("/app/services/api/host", b"a")
    result = render(confpy, tree)
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "was not created by resource vhosts" in line
    assert (tree.out / "api.conf").read_text() == "handmade\n"


def test_identical_existing_file_is_adopted(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A lost manifest heals: a file already holding what would be written becomes owned."""
    vhosts(tree)
    store.put("/app/services/api/host", b"a")
    (tree.out / "api.conf").write_text("server api a;\n")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert listed(tree) == ["api.conf"]


def test_two_each_resources_that_can_name_one_file_are_refused(
    confpy: Confpy, tree: ConfTree
) -> None:
    """`{{ name }}.conf` and `x-{{ name }}.conf` can both give `x-a.conf`: exit 2, file:line."""
    vhosts(tree, name="a")
    tree.template("b.j2", "b")
    tree.resource(
        "b", '[template]\nsrc = "b.j2"\neach = "/x/*"\ndest = "{out}/x-{{ name }}.conf"\n'
    )
    result = render(confpy, tree)
    assert result.returncode == 2
    assert "b.toml:4: dest " in result.stderr and "(resource a)" in result.stderr


def test_a_match_that_would_overwrite_another_resources_file_fails_alone(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A plain resource's `default.conf` is never written by the `each` match `default`."""
    vhosts(tree, template="{{ each.name }}\n")
    tree.template("default.j2", "static\n")
    tree.resource(
        "default", '[template]\nsrc = "default.j2"\ndest = "{out}/default.conf"\nkeys = ["/x"]\n'
    )
    store.put("/app/services/default", b"x")
    store.put("/app/services/api", b"x")
    result = render(confpy, tree)
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "would overwrite the file of resource default" in line
    assert (tree.out / "default.conf").read_text() == "static\n"
    assert (tree.out / "api.conf").exists()


def test_thousand_matches_render_and_vanish(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """1000 matches: 1000 files; after deleting the directory, none is left (the manifest too)."""
    vhosts(tree, template="{{ each.value }}\n")
    names = [f"s{i:04d}" for i in range(1000)]
    for start in range(0, len(names), 100):
        store.put_atomic({f"/app/services/{n}": n.encode() for n in names[start : start + 100]}, {})
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert len(conf_files(tree)) == 1000 and (tree.out / "s0999.conf").read_text() == "s0999\n"
    for start in range(0, len(names), 100):
        store.put_atomic({}, {}, delete=[f"/app/services/{n}" for n in names[start : start + 100]])
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert conf_files(tree) == [] and listed(tree) == []


def test_go_templates_read_each_through_a_call(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """confd syntax: `{{ (each).Name }}` and `{{ (each).Value }}`."""
    tree.template("v.tmpl", '{{ (each).Name }}={{ (each).Value }} {{ getv "/version" }}\n')
    tree.resource(
        "v",
        '[template]\nsrc = "v.tmpl"\neach = "/s/*"\nkeys = ["/version"]\n'
        'dest = "{out}/{{ name }}.conf"\n',
    )
    store.put("/s/a", b"1")
    store.put("/version", b"7")
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert (tree.out / "a.conf").read_text() == "a=1 7\n"


# -- watching and exec ----------------------------------------------------------------------------


class Daemon:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        self.stderr.extend(self.proc.stderr)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                d.proc.wait()


def test_watch_adds_and_removes_files_as_keys_come_and_go(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, daemons: list[Daemon]
) -> None:
    """--watch: a new service gets its file, a deleted one loses it, each with one reload."""
    log = tree.root / "log"
    vhosts(tree, extra=f'reload_cmd = "echo reload >> {log}"')
    store.put("/app/services/api/host", b"a")
    daemons.append(
        Daemon(
            confpy.start(
                "render", "--watch", "--confdir", str(tree.confdir), "--min-reload-interval", "0"
            )
        )
    )
    wait_for(lambda: (tree.out / "api.conf").exists(), what="the first file")
    store.put("/app/services/web/host", b"w")
    wait_for(lambda: (tree.out / "web.conf").exists(), what="the new service's file")
    store.delete("/app/services/api/host")
    wait_for(lambda: not (tree.out / "api.conf").exists(), what="the vanished service's file to go")
    wait_for(lambda: listed(tree) == ["web.conf"], what="the manifest, written after the reload")
    assert len(log.read_text().splitlines()) == 3  # one reload per change set


def test_a_match_removed_while_the_daemon_was_down_goes_at_the_next_start(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, daemons: list[Daemon]
) -> None:
    """The manifest outlives the process: the next start removes what vanished meanwhile."""
    vhosts(tree)
    store.put("/app/services/api/host", b"a")
    store.put("/app/services/web/host", b"w")
    assert render(confpy, tree).returncode == 0
    store.delete("/app/services/web/host")
    daemons.append(Daemon(confpy.start("render", "--watch", "--confdir", str(tree.confdir))))
    wait_for(lambda: conf_files(tree) == ["api.conf"], what="the stale file to be removed")


def test_exec_renders_every_match_before_starting_the_child(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, daemons: list[Daemon]
) -> None:
    """`confpy exec`: the child starts with every file of the `each` resource in place."""
    vhosts(tree)
    store.put("/app/services/api/host", b"a")
    store.put("/app/services/web/host", b"w")
    seen = tree.root / "seen"
    child = f"import os; open({str(seen)!r}, 'w').write(' '.join(sorted(os.listdir({str(tree.out)!r}))))"
    daemons.append(
        Daemon(
            confpy.start(
                "exec",
                "--confdir",
                str(tree.confdir),
                "--",
                sys.executable,
                "-c",
                child + "; import time; time.sleep(60)",
            )
        )
    )
    wait_for(lambda: seen.exists() and seen.read_text(), what="the child to list the directory")
    assert seen.read_text() == ".confpy-each.vhosts.json api.conf web.conf"


def test_manifest_sits_beside_the_files(tree: ConfTree) -> None:
    """The manifest is a hidden file in the dest's directory, named after the resource."""
    r = resource_for(tree)
    assert manifest_path(r) == tree.out / ".confpy-each.t.json"


def test_two_matches_with_one_name_fail_the_second(tree: ConfTree) -> None:
    """`/services/*/config` names every file `config`: the second match fails, naming both keys."""
    r = resource_for(tree, each="/services/*/config")
    values = {"/app/services/a/config": b"1", "/app/services/b/config": b"2"}
    files, failures = expand(r, Snapshot(3, values))
    assert [f.file.dest.name for f in files] == ["config.conf", "config.conf"]
    [(name, error)] = failures.items()
    assert name == "t[/services/b/config]"
    assert "gives the file name 'config' as /app/services/a/config does" in str(error)


def test_manifest_naming_another_resources_file_never_removes_it(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A tampered manifest listing a plain resource's `default.conf`: the file stays."""
    vhosts(tree)
    tree.template("default.j2", "static\n")
    tree.resource(
        "default", '[template]\nsrc = "default.j2"\ndest = "{out}/default.conf"\nkeys = ["/x"]\n'
    )
    store.put("/app/services/api/host", b"a")
    assert render(confpy, tree).returncode == 0
    (tree.out / ".confpy-each.vhosts.json").write_text(
        json.dumps({"files": ["api.conf", "default.conf"]})
    )
    result = render(confpy, tree)
    assert result.returncode == 0, result.stderr
    assert (tree.out / "default.conf").read_text() == "static\n"
    assert "not removing another resource's file" in result.stderr


def test_under_watch_one_failing_file_holds_back_the_others(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, daemons: list[Daemon]
) -> None:
    """The files of one resource are one change set: a check failure in one installs none."""
    vhosts(tree, extra='check_cmd = "! grep -q broken {{ src }}"')
    store.put("/app/services/api/host", b"a1")
    store.put("/app/services/web/host", b"w1")
    daemons.append(Daemon(confpy.start("render", "--watch", "--confdir", str(tree.confdir))))
    wait_for(lambda: conf_files(tree) == ["api.conf", "web.conf"], what="the first files")
    store.put_atomic({"/app/services/api/host": b"a2", "/app/services/web/host": b"broken"}, {})
    wait_for(
        lambda: any("vhosts[web]" in line and "check_cmd" in line for line in daemons[0].stderr),
        what="the failed check",
    )
    assert (tree.out / "api.conf").read_text() == "server api a1;\n"
    store.put("/app/services/web/host", b"w2")
    wait_for(
        lambda: (
            (tree.out / "api.conf").read_text() == "server api a2;\n"
            and (tree.out / "web.conf").read_text() == "server web w2;\n"
        ),
        what="both files",
    )
