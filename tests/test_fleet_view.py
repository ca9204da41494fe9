"""What `confpy status` makes of records, the fleet resource fields, when a record goes out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.config.resource import TemplateResource, load_resource
from confpy.errors import ConfigError
from confpy.fleet.report import Reporter
from confpy.fleet.view import parse_host, shown, summary
from confpy.store.snapshot import Store
from confpy.watch.health import Status

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(host_id=st.text(), raw=st.binary() | _json.map(lambda v: json.dumps(v).encode()))
def test_any_id_and_record_give_one_printable_line(host_id: str, raw: bytes) -> None:
    """Whatever sits in etcd, a host is one line of printable characters that starts with
    its escaped id, and the summary is one line too."""
    host = parse_host(host_id, raw)
    line = host.line(None)
    assert line.startswith(shown(host_id)) and all(c.isprintable() for c in line)
    _, last = summary([host], None)
    assert all(c.isprintable() for c in last)


@given(st.text())
def test_shown_never_lets_a_control_character_through(text: str) -> None:
    """Escaped text is printable, and distinct texts stay distinct up to the cut."""
    out = shown(text, limit=10_000)
    assert all(c.isprintable() for c in out)
    assert "\n" not in out and "\x1b" not in out


def test_a_record_with_a_mistyped_field_is_a_problem_not_ok() -> None:
    """`"healthy": "yes"` is not `true`: such a host never counts as healthy."""
    host = parse_host("web-1", json.dumps({"healthy": "yes", "revision": 5}).encode())
    assert host.problem is not None and not host.ok(None)


def test_wait_revision_needs_the_host_at_or_past_it() -> None:
    """A healthy host behind the wanted revision is not ok yet."""
    host = parse_host("web-1", json.dumps({"healthy": True, "revision": 41}).encode())
    assert host.ok(None) and not host.ok(42) and host.ok(41)


def _resource(tmp_path: Path, extra: str) -> TemplateResource:
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "t.j2").write_text("x")
    toml = tmp_path / "t.toml"
    toml.write_text(f'[template]\nsrc = "t.j2"\ndest = "/tmp/t"\nkeys = ["/a"]\n{extra}')
    return load_resource(toml, tmp_path / "templates")


def test_fleet_group_defaults_to_a_concurrency_of_one(tmp_path: Path) -> None:
    """fleet_group alone means one daemon of the group at a time."""
    assert _resource(tmp_path, 'fleet_group = "lb"\n').fleet == ("lb", 1)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("fleet_concurrency = 2\n", "fleet_concurrency"),
        ('fleet_group = "a/b"\n', "fleet_group"),
        ('fleet_group = "lb\\n"\n', "fleet_group"),
        ('fleet_group = ".."\n', "fleet_group"),
        ('fleet_group = "lb"\nfleet_concurrency = 0\n', "fleet_concurrency"),
        ('fleet_group = "lb"\nfleet_concurrency = true\n', "fleet_concurrency"),
    ],
)
def test_a_bad_fleet_field_is_refused_naming_it(tmp_path: Path, extra: str, field: str) -> None:
    """Concurrency without a group, a group that is not one key segment, a concurrency
    below 1: one error naming the field and its line."""
    with pytest.raises(ConfigError) as e:
        _resource(tmp_path, extra)
    assert f"{field}:" in str(e.value) and "t.toml:" in str(e.value)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _PutStore:
    """Only what the reporter's refresh touches: puts answer with a growing revision."""

    def __init__(self) -> None:
        self.revision = 100

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        self.revision += 1
        return self.revision


def _reporter() -> tuple[Reporter, Status, _Clock]:
    clock = _Clock()
    status = Status(clock)
    status.mark_started()
    status.set_connected(True)
    status.set_synced(True)
    status.set_revision(50)
    reporter = Reporter(
        cast(Store, _PutStore()),
        status,
        lambda: [],
        prefix="/s",
        report_id="a",
        clock=clock,
        spread=lambda: 0.0,  # no random wait: this file tests the rate limit
    )
    return reporter, status, clock


def test_a_state_change_goes_out_at_most_once_a_second() -> None:
    """A resource that starts failing is published, but not twice within a second."""
    reporter, status, clock = _reporter()
    clock.now += 2
    status.resource_failed("app", "check: exited 1")
    assert reporter.refresh()
    status.resource_recovered("app")
    assert not reporter.refresh()
    clock.now += 1
    assert reporter.refresh()


def test_a_moved_revision_alone_goes_out_every_30_s_and_never_for_our_own_put() -> None:
    """etcd's revision moving (other writers) is published at most every 30 s; a move to
    the revision of the record's own put is not published at all."""
    reporter, status, clock = _reporter()
    own = reporter.registration.store.put("/s/a", b"{}")  # the record's put, at 101
    status.set_revision(own)
    clock.now += 60
    assert not reporter.refresh()
    status.set_revision(own + 5)
    clock.now += 1
    assert reporter.refresh()
    status.set_revision(own + 9)
    clock.now += 10
    assert not reporter.refresh()
    clock.now += 20
    assert reporter.refresh()
