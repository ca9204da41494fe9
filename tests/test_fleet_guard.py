"""The slot guard inside `runner.apply`: held from the first install to the last reload."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from confpy.apply.each import plan
from confpy.apply.runner import RenderOptions, apply
from confpy.config.resource import TemplateResource, load_resources
from confpy.errors import StoreUnavailableError
from confpy.store.snapshot import Snapshot
from tests.helpers import ConfTree


def _resources(tree: ConfTree, log: str) -> list[TemplateResource]:
    for name in ("lb", "app"):
        tree.template(f"{name}.j2", "unused")
        extra = 'fleet_group = "lb"\n' if name == "lb" else ""
        tree.resource(
            name,
            f'[template]\nsrc = "{name}.j2"\ndest = "{{out}}/{name}"\nkeys = ["/k"]\n'
            f'reload_cmd = ["sh", "-c", "echo reload >> {log}"]\n{extra}',
        )
    loaded = load_resources(tree.confdir)
    assert not loaded.errors
    return loaded.resources


def test_the_guard_spans_install_and_reload_and_sees_what_goes_in(tree: ConfTree) -> None:
    """The guard is entered after staging with the resources to install, and left only
    after their reload ran."""
    log = tree.root / "reloads"
    rs = _resources(tree, str(log))
    seen: list[tuple[str, list[str], bool, bool]] = []

    @contextlib.contextmanager
    def guard(going: Sequence[TemplateResource]) -> Iterator[bool]:
        names = sorted(r.name for r in going)
        seen.append(("enter", names, (tree.out / "lb").exists(), log.exists()))
        yield True
        seen.append(("exit", names, (tree.out / "lb").exists(), log.exists()))

    rendered = {"lb": b"one\n", "app": b"two\n"}
    report = apply(
        plan(rs, Snapshot(5, {})),
        Snapshot(5, {}),
        rendered,
        {},
        RenderOptions(),
        atomic=True,
        guard=guard,
    )
    assert report.ok
    assert seen == [("enter", ["app", "lb"], False, False), ("exit", ["app", "lb"], True, True)]


def test_a_guard_that_cannot_be_taken_installs_nothing_and_fails_at_the_slot(
    tree: ConfTree,
) -> None:
    """etcd away when asking for a slot: no file is installed, every resource of the change
    set fails at the step "slot" (so the daemon retries it), and nothing is reloaded."""
    log = tree.root / "reloads"
    rs = _resources(tree, str(log))

    def guard(going: Sequence[TemplateResource]) -> contextlib.AbstractContextManager[bool]:
        raise StoreUnavailableError("etcd unavailable during lease grant: refused")

    rendered = {"lb": b"one\n", "app": b"two\n"}
    report = apply(
        plan(rs, Snapshot(5, {})),
        Snapshot(5, {}),
        rendered,
        {},
        RenderOptions(),
        atomic=True,
        guard=guard,
    )
    assert [(o.status, o.step) for o in report.outcomes] == [("failed", "slot")] * 2
    assert not (tree.out / "lb").exists() and not (tree.out / "app").exists()
    assert not log.exists()
    assert sorted(p.name for p in tree.out.iterdir()) == []  # no stage file left behind


def test_unchanged_files_take_no_slot(tree: ConfTree) -> None:
    """A resync that renders what is installed already never asks for a slot."""
    rs = _resources(tree, str(tree.root / "reloads"))
    rendered = {"lb": b"one\n", "app": b"two\n"}
    apply(plan(rs, Snapshot(5, {})), Snapshot(5, {}), rendered, {}, RenderOptions(), atomic=True)
    asked: list[object] = []

    def guard(going: Sequence[TemplateResource]) -> contextlib.AbstractContextManager[bool]:
        asked.append(going)
        return contextlib.nullcontext(True)

    apply(
        plan(rs, Snapshot(6, {})),
        Snapshot(6, {}),
        rendered,
        {},
        RenderOptions(),
        atomic=True,
        guard=guard,
    )
    assert asked == []
