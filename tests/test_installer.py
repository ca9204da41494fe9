"""The installer is a transaction: stage, compare, check, replace, reload; failures change nothing."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading

import pytest

from confpy.apply.each import plan
from confpy.apply.report import Report
from confpy.apply.runner import RenderOptions, apply
from confpy.config.resource import TemplateResource, load_resources
from confpy.store.snapshot import Snapshot
from tests.helpers import ConfTree, mode_of


def resource(tree: ConfTree, name: str = "app", extra: str = "") -> TemplateResource:
    tree.template(f"{name}.j2", "unused")
    tree.resource(
        name, f'[template]\nsrc = "{name}.j2"\ndest = "{{out}}/{name}"\nkeys = ["/k"]\n{extra}'
    )
    loaded = load_resources(tree.confdir)
    assert not loaded.errors, loaded.errors
    return next(r for r in loaded.resources if r.name == name)


def install(
    rs: list[TemplateResource], contents: list[bytes], atomic: bool = False, **options: bool
) -> Report:
    rendered = {r.name: c for r, c in zip(rs, contents, strict=True)}
    snapshot = Snapshot(5, {})
    return apply(
        plan(rs, snapshot), snapshot, rendered, {}, RenderOptions(**options), atomic=atomic
    )


def test_new_file_is_installed_with_default_mode(tree: ConfTree) -> None:
    """A first render creates the file, 0644 unless told otherwise."""
    r = resource(tree)
    report = install([r], [b"hello\n"])
    assert report.outcomes[0].status == "installed"
    assert r.dest.read_bytes() == b"hello\n"
    assert mode_of(r.dest) == 0o644


def test_existing_file_keeps_its_mode_when_resource_sets_none(tree: ConfTree) -> None:
    """Without `mode`, an existing file's mode is preserved."""
    r = resource(tree)
    r.dest.write_text("old")
    os.chmod(r.dest, 0o640)
    install([r], [b"new"])
    assert mode_of(r.dest) == 0o640 and r.dest.read_bytes() == b"new"


def test_identical_content_means_no_write_and_no_reload(tree: ConfTree) -> None:
    """Same content, mode and owner: the file is not touched and reload_cmd does not run."""
    marker = tree.root / "reloaded"
    r = resource(tree, extra=f'reload_cmd = "touch {marker}"\nmode = "0644"\n')
    install([r], [b"same"])
    marker.unlink()
    inode = os.stat(r.dest).st_ino
    report = install([r], [b"same"])
    assert report.outcomes[0].status == "unchanged"
    assert os.stat(r.dest).st_ino == inode
    assert not marker.exists()


def test_mode_change_alone_is_installed(tree: ConfTree) -> None:
    """A new mode with the same content still counts as a change."""
    r = resource(tree, extra='mode = "0600"\n')
    r.dest.write_bytes(b"same")
    os.chmod(r.dest, 0o644)
    assert install([r], [b"same"]).outcomes[0].status == "installed"
    assert mode_of(r.dest) == 0o600


def test_secret_file_is_never_readable_by_others_while_staged(tree: ConfTree) -> None:
    """A 0600 file is created 0600: a watcher polling the directory never sees it wider."""
    r = resource(tree, extra='mode = "0600"\n')
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in os.scandir(tree.out):
                with contextlib.suppress(FileNotFoundError):
                    seen.add(entry.stat().st_mode & 0o777)

    t = threading.Thread(target=watch)
    t.start()
    try:
        for i in range(50):
            install([r], [f"key {i}".encode() * 1000])
    finally:
        stop.set()
        t.join()
    assert seen == {0o600}


def test_failing_check_leaves_destination_untouched(tree: ConfTree) -> None:
    """check_cmd exiting non-zero keeps the old file and removes the stage file."""
    r = resource(tree, extra='check_cmd = "grep -q good {{ src }}"\n')
    r.dest.write_text("old")
    report = install([r], [b"bad"])
    o = report.outcomes[0]
    assert (o.status, o.step) == ("failed", "check")
    assert "check_cmd exited 1" in str(o.error)
    assert r.dest.read_text() == "old"
    assert sorted(p.name for p in tree.out.iterdir()) == ["app"]


def test_check_cmd_sees_the_staged_content(tree: ConfTree) -> None:
    """`{{.src}}` (confd) and `{{ src }}` both name the stage file holding the new content."""
    r = resource(tree, extra='check_cmd = "grep -q new {{.src}} && grep -q new {{ src }}"\n')
    assert install([r], [b"new"]).outcomes[0].status == "installed"


def test_failing_reload_reports_status_and_keeps_new_file(tree: ConfTree) -> None:
    """A reload failure is reported with its exit status and output; the checked file stays."""
    r = resource(tree, extra='reload_cmd = "echo cannot reload >&2; exit 4"\n')
    report = install([r], [b"new"])
    o = report.outcomes[0]
    assert (o.status, o.step) == ("failed", "reload")
    assert "reload_cmd exited 4: cannot reload" in str(o.error)
    assert r.dest.read_bytes() == b"new"
    assert install([r], [b"new"]).outcomes[0].status == "unchanged"


def test_shared_reload_command_runs_once_for_several_files(tree: ConfTree) -> None:
    """A certificate and its key with the same reload_cmd reload once, after both are in place."""
    log = tree.root / "reloads"
    cmd = f'reload_cmd = "cat {tree.out}/cert {tree.out}/key >> {log}"\n'
    rs = [resource(tree, "cert", cmd), resource(tree, "key", cmd)]
    install(rs, [b"C2\n", b"K2\n"], atomic=True)
    assert log.read_text() == "C2\nK2\n"


def test_failed_check_in_a_change_set_installs_none_of_it(tree: ConfTree) -> None:
    """With atomic change sets, one failing check keeps every file of the set old."""
    cert = resource(tree, "cert")
    key = resource(tree, "key", 'check_cmd = "false"\n')
    cert.dest.write_text("C1")
    key.dest.write_text("K1")
    report = install([cert, key], [b"C2", b"K2"], atomic=True)
    assert not report.ok
    assert (cert.dest.read_text(), key.dest.read_text()) == ("C1", "K1")


def test_unwritable_directory_fails_that_resource_only(tree: ConfTree) -> None:
    """A destination directory that does not exist fails one resource; the others install."""
    good = resource(tree, "good")
    bad = resource(tree, "bad")
    object.__setattr__(bad, "dest", tree.out / "missing-dir" / "bad")
    report = install([bad, good], [b"x", b"y"])
    assert [o.status for o in report.outcomes] == ["failed", "installed"]
    assert "does not exist (set make_dirs = true" in str(report.outcomes[0].error)


def test_make_dirs_creates_the_destination_directory(tree: ConfTree) -> None:
    """make_dirs = true creates missing parent directories."""
    r = resource(tree, extra="make_dirs = true\n")
    object.__setattr__(r, "dest", tree.out / "a" / "b" / "app")
    assert install([r], [b"x"]).outcomes[0].status == "installed"


def test_noop_reports_a_diff_and_writes_nothing(tree: ConfTree) -> None:
    """--noop shows the change as a unified diff."""
    r = resource(tree)
    r.dest.write_text("port=1\n")
    report = install([r], [b"port=2\n"], noop=True)
    assert report.outcomes[0].status == "pending"
    assert "-port=1\n+port=2\n" in (report.outcomes[0].diff or "")
    assert r.dest.read_text() == "port=1\n"


def test_noop_hides_contents_of_owner_only_files(tree: ConfTree) -> None:
    """A 0600 file's diff shows checksums, never the secret."""
    r = resource(tree, extra='mode = "0600"\n')
    report = install([r], [b"PRIVATE KEY"], noop=True)
    assert "PRIVATE" not in (report.outcomes[0].diff or "")
    assert "contents hidden" in (report.outcomes[0].diff or "")


def test_keep_stage_file_leaves_it_for_inspection(tree: ConfTree) -> None:
    """--keep-stage-file keeps a failed stage file next to the destination."""
    r = resource(tree, extra='check_cmd = "false"\n')
    install([r], [b"x"], keep_stage_file=True)
    assert any(p.name.startswith(".app.confpy-") for p in tree.out.iterdir())


def test_bind_mounted_destination_is_rewritten_in_place(tree: ConfTree) -> None:
    """Rename over a bind-mounted file fails with EBUSY; confpy rewrites it in place."""
    r = resource(tree)
    r.dest.write_text("old")
    source = tree.root / "mount-source"
    source.write_text("old")
    if subprocess.run(
        ["mount", "--bind", str(source), str(r.dest)], capture_output=True
    ).returncode:
        pytest.skip("bind mounts are not permitted here")
    try:
        report = install([r], [b"new"])
        assert report.outcomes[0].status == "installed"
        assert source.read_text() == "new"
    finally:
        subprocess.run(["umount", str(r.dest)], check=False)
