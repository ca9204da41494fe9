"""The daemon's per-resource state table: retries, owed and deferred reloads, on given times."""

from __future__ import annotations

from confpy.backoff import Backoff
from confpy.watch.state import ResourceTable


def table() -> ResourceTable:
    return ResourceTable(Backoff(initial=1.0, maximum=8.0, jitter=0.0))


def test_retry_delays_grow_and_stop_at_the_maximum() -> None:
    """Failures back off exponentially, up to a ceiling."""
    t = table()
    assert [t.failed("app", now=0.0) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_retry_is_due_after_its_delay_once_and_the_resource_stays_failing() -> None:
    t = table()
    t.failed("app", now=100.0)
    assert t.due(100.5) == set()
    assert t.next_due() == 101.0
    assert t.due(101.0) == {"app"}
    assert t.due(102.0) == set()  # handed out once
    assert t.failing == {"app"}


def test_success_clears_the_failure_and_restarts_the_backoff() -> None:
    t = table()
    t.failed("app", now=0.0)
    t.failed("app", now=0.0)
    t.succeeded("app")
    assert t.failing == set() and t.next_due() is None
    assert t.failed("app", now=0.0) == 1.0


def test_a_deferred_reload_is_due_at_its_time_and_counts_as_deferred_until_then() -> None:
    t = table()
    t.set_owed("app", True)
    t.defer_reload("app", until=5.0)
    assert t.deferred and t.owed == {"app"}
    assert t.due(4.9) == set()
    assert t.due(5.0) == {"app"}
    assert not t.deferred and t.owed == {"app"}  # still owed until it runs


def test_setting_the_owed_reload_drops_a_deferral() -> None:
    """A new outcome decides afresh: an earlier deferral does not linger."""
    t = table()
    t.defer_reload("app", until=5.0)
    t.set_owed("app", False)
    assert not t.deferred and t.next_due() is None


def test_touches_collect_revisions_until_rendered_and_keep_the_first_receipt_time() -> None:
    t = table()
    t.touched("app", revision=7, received=1.0)
    t.touched("app", revision=9, received=2.0)
    assert t.get("app").revisions == {7, 9}
    t.rendered({"app"})
    assert t.get("app").revisions == set()
    assert t.take_received("app") == 1.0
    assert t.take_received("app") is None


def test_keep_forgets_every_other_resource() -> None:
    """After SIGHUP, resources no longer configured leave every column at once."""
    t = table()
    t.failed("gone", now=0.0)
    t.set_owed("gone", True)
    t.touched("gone", revision=3, received=0.0)
    t.failed("kept", now=0.0)
    t.keep({"kept"})
    assert t.failing == {"kept"} and t.owed == set() and t.get("gone").revisions == set()


def test_an_unknown_resource_reads_as_idle() -> None:
    t = table()
    assert t.get("nobody").idle and t.take_received("nobody") is None
