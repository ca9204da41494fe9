"""The status reporter spreads changes of state alone over a random delay (no real sleeps:
the clock, the random draw and the waits are injected)."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from confpy.fleet.report import KEEPALIVE_JITTER, MIN_INTERVAL, STATE_SPREAD, Reporter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStatus:
    """What `health.Status.health()` says, as far as the record reads it."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {
            "healthy": True,
            "in_sync": True,
            "revision": 7,
            "failing": {},
            "waiting_for": None,
        }

    def health(self) -> dict[str, Any]:
        return dict(self.state)


class FakeStop:
    """An Event whose waits advance the clock instead of the time."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.waits = clock, list[float]()

    def is_set(self) -> bool:
        return False

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.now += seconds
        return False


def reporter(tmp_path: Path, clock: Clock, draw: float) -> tuple[Reporter, FakeStatus, Path]:
    dest = tmp_path / "out"
    dest.write_text("one\n")
    status = FakeStatus()
    resource = SimpleNamespace(name="app", each=None, dest=dest)
    r = Reporter(
        SimpleNamespace(),  # type: ignore[arg-type]  # no request is made: refresh only
        status,  # type: ignore[arg-type]
        lambda: [resource],  # type: ignore[list-item,return-value]
        prefix="/st",
        report_id="h1",
        clock=clock,
        spread=lambda: draw,
    )
    clock.now += 10  # well past the rate limit of the first record
    return r, status, dest


def test_a_change_of_state_alone_waits_for_its_random_delay(tmp_path: Path) -> None:
    """in_sync flapping (etcd restarted) is put only after draw x STATE_SPREAD seconds."""
    clock = Clock()
    r, status, _ = reporter(tmp_path, clock, draw=0.5)
    status.state["in_sync"] = False
    assert not r.refresh()
    clock.now += 0.5 * STATE_SPREAD - 0.01
    assert not r.refresh()
    clock.now += 0.01
    assert r.refresh()
    assert r.published["in_sync"] is False


def test_a_state_that_changes_back_within_its_delay_is_never_put(tmp_path: Path) -> None:
    """etcd away for a moment: in_sync goes false and true again, and no put is made."""
    clock = Clock()
    r, status, _ = reporter(tmp_path, clock, draw=0.9)
    status.state["in_sync"] = False
    assert not r.refresh()
    clock.now += 1.0
    status.state["in_sync"] = True
    assert not r.refresh()
    clock.now += STATE_SPREAD
    assert not r.refresh()
    assert r.due is None


def test_a_changed_file_is_put_at_once_whatever_the_draw(tmp_path: Path) -> None:
    """A change set applied to the files goes at once, so --wait-revision stays quick,
    even when a change of state alone is waiting at the same time."""
    clock = Clock()
    r, status, dest = reporter(tmp_path, clock, draw=1.0)
    status.state["healthy"] = False
    assert not r.refresh()
    dest.write_text("two\n")
    status.state["revision"] = 9
    assert r.refresh()
    assert r.published["revision"] == 9 and r.published["healthy"] is False


def test_the_rate_limit_still_holds_for_changed_files(tmp_path: Path) -> None:
    """Two file changes within a second: the second waits for MIN_INTERVAL."""
    clock = Clock()
    r, _, dest = reporter(tmp_path, clock, draw=0.0)
    dest.write_text("two\n")
    assert r.refresh()
    dest.write_text("three!\n")
    clock.now += MIN_INTERVAL / 2
    assert not r.refresh()
    clock.now += MIN_INTERVAL / 2
    assert r.refresh()


def test_the_wait_wakes_when_the_record_is_due_not_at_the_next_second(tmp_path: Path) -> None:
    """The registration's nap returns at the drawn moment, so that the draws of a fleet are
    not rounded to whole seconds (which would herd them again)."""
    clock = Clock()
    r, status, _ = reporter(tmp_path, clock, draw=0.1)
    stop = FakeStop(clock)
    r.stop = stop  # type: ignore[assignment]
    status.state["in_sync"] = False
    start = clock.now
    r._nap(15.0)
    assert r.published["in_sync"] is False
    assert abs(clock.now - start - 0.1 * STATE_SPREAD) < 0.02, stop.waits


def test_a_fleet_s_records_after_an_etcd_restart_are_spread_over_the_window(
    tmp_path: Path,
) -> None:
    """200 reporters whose state changes in the same instant put their records over
    STATE_SPREAD seconds: no 100 ms holds more than a few of them (was: all 200)."""
    rng = random.Random(20)
    clock = Clock()
    fleet = []
    for i in range(200):
        (tmp_path / str(i)).mkdir()
        fleet.append(reporter(tmp_path / str(i), clock, draw=rng.random()))
    for _, status, _ in fleet:
        status.state["in_sync"] = False
    put_at: list[float] = []
    start = clock.now
    while clock.now - start <= STATE_SPREAD + 0.1:
        put_at += [clock.now - start for r, _, _ in fleet if r.refresh()]
        clock.now += 0.01
    assert len(put_at) == 200
    assert max(put_at) <= STATE_SPREAD + 0.02
    busiest = max(sum(1 for t in put_at if w <= t < w + 0.1) for w in put_at)
    assert busiest <= 20, busiest


def test_each_refresh_interval_is_drawn_anew_within_the_ttl(tmp_path: Path) -> None:
    """Keep-alives that coincided once drift apart: every interval is ttl/2 shortened by
    the draw, and a retry's wait (any other length) draws nothing."""
    clock = Clock()
    r, _, _ = reporter(tmp_path, clock, draw=1.0)
    r.stop = FakeStop(clock)  # type: ignore[assignment]
    shortest = r.ttl / 2 * (1 - KEEPALIVE_JITTER)
    assert r.registration.interval == shortest
    r.spread = lambda: 0.0
    r._nap(0.3)
    assert r.registration.interval == shortest
    r._nap(r.registration.interval)
    assert r.registration.interval == r.ttl / 2


class CountingStore:
    def __init__(self) -> None:
        self.keep_alives = 0

    def keep_alive(self, lease: int) -> int:
        self.keep_alives += 1
        return 30


def test_a_new_record_is_put_without_a_keep_alive_when_the_lease_is_fresh(
    tmp_path: Path,
) -> None:
    """A changed file's record goes as one put, not keep-alive + put, while the lease was
    refreshed less than ttl/2 ago; an older lease, or the step after, is refreshed."""
    clock = Clock()
    r, _, dest = reporter(tmp_path, clock, draw=0.0)
    store = CountingStore()
    r._own._store = store  # type: ignore[assignment]
    assert r._own.keep_alive(5) == 30 and store.keep_alives == 1
    r.stop = FakeStop(clock)  # type: ignore[assignment]
    dest.write_text("two\n")
    r._nap(15.0)  # returns at once: the record is due
    assert r._own.keep_alive(5) == 30 and store.keep_alives == 1
    assert r._own.keep_alive(5) == 30 and store.keep_alives == 2  # the next one is real
    clock.now += 20
    dest.write_text("three\n")
    r._nap(15.0)
    r._own.keep_alive(5)
    assert store.keep_alives == 3  # 20 s old: more than half the TTL gone
