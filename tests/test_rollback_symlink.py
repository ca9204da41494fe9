"""`on_reload_failure = "rollback"` puts back what was there: a destination that was a
symbolic link is a link again, to the same target, which the install never touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from confpy.apply.each import plan
from confpy.apply.report import Report
from confpy.apply.runner import RenderOptions, apply
from confpy.config.resource import TemplateResource, load_resources
from confpy.store.snapshot import Snapshot
from tests.helpers import ConfTree


def resource(tree: ConfTree) -> TemplateResource:
    """`app`, whose reload fails unless the file says `good`, rolled back on failure."""
    tree.template("app.j2", "unused")
    tree.resource(
        "app",
        '[template]\nsrc = "app.j2"\ndest = "{out}/app"\nkeys = ["/k"]\n'
        'reload_cmd = "grep -q good {{ dest }}"\non_reload_failure = "rollback"\n',
    )
    loaded = load_resources(tree.confdir)
    assert not loaded.errors, loaded.errors
    [r] = loaded.resources
    return r


def install(r: TemplateResource, content: bytes) -> Report:
    snapshot = Snapshot(5, {})
    return apply(
        plan([r], snapshot), snapshot, {r.name: content}, {}, RenderOptions(), atomic=False
    )


def test_a_symlinked_destination_is_a_link_to_the_same_target_after_a_rollback(
    tree: ConfTree,
) -> None:
    """dest -> a shared target: a refused file is rolled back to the link itself, the
    target keeps its content, and later changes to the target show through dest again."""
    r = resource(tree)
    shared = tree.root / "shared" / "app.conf"
    shared.parent.mkdir()
    shared.write_text("good, shared\n")
    r.dest.symlink_to(shared)
    report = install(r, b"bad\n")
    [outcome] = report.outcomes
    assert outcome.failed and "restored the previous file and reloaded" in str(outcome.error)
    assert r.dest.is_symlink() and os.readlink(r.dest) == str(shared)
    assert shared.read_text() == "good, shared\n"
    shared.write_text("good, changed later\n")
    assert r.dest.read_text() == "good, changed later\n"
    assert sorted(p.name for p in tree.out.iterdir()) == ["app"]  # no stage link left


def test_a_relative_link_keeps_its_exact_target_text(tree: ConfTree) -> None:
    """The link is restored as written (`../shared/app.conf`), not resolved."""
    r = resource(tree)
    (tree.root / "shared").mkdir()
    (tree.root / "shared" / "app.conf").write_text("good\n")
    os.symlink("../shared/app.conf", r.dest)
    install(r, b"bad\n")
    assert os.readlink(r.dest) == "../shared/app.conf"


def test_a_dangling_link_is_restored_not_removed(tree: ConfTree) -> None:
    """A link whose target does not exist yet was there before: it is put back."""
    r = resource(tree)
    missing = tree.root / "not-yet" / "app.conf"
    r.dest.symlink_to(missing)
    [outcome] = install(r, b"bad\n").outcomes
    assert outcome.failed
    assert r.dest.is_symlink() and Path(os.readlink(r.dest)) == missing


def test_a_successful_reload_leaves_the_new_file_and_the_target_alone(tree: ConfTree) -> None:
    """No rollback: the new file replaces the link (as confd does), the target is untouched."""
    r = resource(tree)
    shared = tree.root / "shared.conf"
    shared.write_text("old\n")
    r.dest.symlink_to(shared)
    [outcome] = install(r, b"good\n").outcomes
    assert not outcome.failed
    assert not r.dest.is_symlink() and r.dest.read_text() == "good\n"
    assert shared.read_text() == "old\n"
    assert sorted(p.name for p in tree.out.iterdir()) == ["app"]


def test_a_restored_link_keeps_its_owner(tree: ConfTree) -> None:
    """The link comes back with the owner it had (root can give links to other users)."""
    if os.geteuid() != 0:
        pytest.skip("only root can own a link as another user")
    r = resource(tree)
    shared = tree.root / "shared.conf"
    shared.write_text("good\n")
    r.dest.symlink_to(shared)
    os.lchown(r.dest, 4321, 4322)
    install(r, b"bad\n")
    st = os.lstat(r.dest)
    assert r.dest.is_symlink() and (st.st_uid, st.st_gid) == (4321, 4322)
