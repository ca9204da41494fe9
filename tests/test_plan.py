"""A change set is planned once, before rendering, into file operations the runner executes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from confpy.apply import each
from confpy.apply.onetime import run_onetime
from confpy.apply.runner import RenderOptions, load_config, plan_change_set
from confpy.config.resource import TemplateResource
from confpy.store.datafile import DataStore
from confpy.store.snapshot import Snapshot
from tests.helpers import ConfTree


def each_tree(tree: ConfTree) -> None:
    """A plain resource `plain` and an `each` resource `vhosts` over /app/services/*."""
    tree.simple("plain", "{{ getv('/app/x') }}\n", ["/app/x"])
    tree.template("v.j2", "server {{ each.name }};\n")
    tree.resource(
        "vhosts",
        '[template]\nsrc = "v.j2"\ndest = "{out}/{{ name }}.conf"\nprefix = "/app"\n'
        'each = "/services/*"\n',
    )


VALUES = {"/app/x": b"1", "/app/services/a/h": b"h", "/app/services/b/h": b"h"}


def test_a_change_set_expands_each_resource_once(
    tree: ConfTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`render --onetime` expands an `each` resource once per change set, not once to
    render and again to install."""
    each_tree(tree)
    calls: list[str] = []
    expand = each.expand

    def counting(r: TemplateResource, *args: object, **kwargs: object) -> object:
        calls.append(r.name)
        return expand(r, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(each, "expand", counting)
    report = run_onetime(load_config(tree.confdir), DataStore(VALUES), RenderOptions())
    assert report.ok
    assert calls == ["vhosts"]
    assert sorted(p.name for p in tree.out.glob("*.conf")) == ["a.conf", "b.conf"]


def test_a_plan_renders_every_file_then_removes_what_its_manifest_lists_and_is_gone(
    tree: ConfTree,
) -> None:
    """Files in resource order, one per match, then the removal of a listed file whose
    match is gone; a removal is an operation, named for messages as `removing NAME`."""
    each_tree(tree)
    (tree.out / "old.conf").write_text("server old;\n")
    (tree.out / ".confpy-each.vhosts.json").write_text(json.dumps({"files": ["old.conf"]}))
    config = load_config(tree.confdir)
    plan = plan_change_set(config, config.resources, Snapshot(3, VALUES))
    assert [(op.name, op.parent, op.remove) for op in plan.files] == [
        ("plain", "plain", False),
        ("vhosts[a]", "vhosts", False),
        ("vhosts[b]", "vhosts", False),
        ("vhosts[-old.conf]", "vhosts", True),
    ]
    assert [op.label for op in plan.files[1:]] == ["each a", "each b", "removing old.conf"]
    assert [op.unlisted for op in plan.files[1:3]] == [True, True]


def test_a_resource_holds_configuration_only(tree: ConfTree) -> None:
    """What a file of an `each` resource renders rides on its operation, not its resource:
    the configured resource compares equal however many files it expanded to."""
    each_tree(tree)
    config = load_config(tree.confdir)
    before = dataclasses.astuple(next(r for r in config.resources if r.name == "vhosts"))
    plan_change_set(config, config.resources, Snapshot(3, VALUES))
    after = next(r for r in config.resources if r.name == "vhosts")
    assert dataclasses.astuple(after) == before
    assert not {"each_match", "each_reserved"} & {f.name for f in dataclasses.fields(after)}


def test_a_refused_match_is_out_of_the_plan_and_reported_by_its_resource(
    tree: ConfTree,
) -> None:
    """A key whose name cannot be a file is no file operation; the resource's outcome
    names it, and the other files install."""
    each_tree(tree)
    values = {**VALUES, "/app/services/-rf": b"x"}
    report = run_onetime(load_config(tree.confdir), DataStore(values), RenderOptions())
    [vhosts] = [o for o in report.outcomes if o.resource.name == "vhosts"]
    assert vhosts.failed and "each -rf" in str(vhosts.error)
    assert sorted(p.name for p in tree.out.glob("*.conf")) == ["a.conf", "b.conf"]
