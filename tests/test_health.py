"""`Status`: /healthz tells the truth, on a fake clock (no HTTP, no etcd)."""

from __future__ import annotations

from confpy.watch.health import Status


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def healthy_status() -> tuple[Status, FakeClock]:
    clock = FakeClock()
    status = Status(clock)
    status.mark_started()
    status.set_connected(True)
    status.set_synced(True)
    status.set_bounds(max_lag=30.0, silent_after=40.0)
    status.heard(5)
    return status, clock


def test_a_started_connected_daemon_with_nothing_pending_is_healthy() -> None:
    status, _ = healthy_status()
    health = status.health()
    assert health["healthy"] and health["reasons"] == []


def test_before_the_first_render_it_is_not_healthy() -> None:
    status = Status(FakeClock())
    assert status.health()["reasons"] == ["starting: first render not done"]


def test_a_failing_reload_is_unhealthy_and_named() -> None:
    status, _ = healthy_status()
    status.resource_failed("app", "reload: /out/app: reload_cmd exited 1", reload=True)
    health = status.health()
    assert not health["healthy"]
    assert health["failing_reloads"] == ["app"]
    assert "reload failing for: app" in health["reasons"]


def test_a_refused_sighup_configuration_is_unhealthy() -> None:
    status, _ = healthy_status()
    status.config_refused("conf.d/broken.toml: line 1: invalid TOML")
    health = status.health()
    assert not health["healthy"]
    assert health["config_error"].startswith("conf.d/broken.toml")
    assert "last configuration reload (SIGHUP) refused" in health["reasons"]


def test_a_change_in_flight_is_healthy_until_it_waits_longer_than_the_bound() -> None:
    status, clock = healthy_status()
    status.behind()
    clock.now += 29
    assert status.health()["healthy"]
    clock.now += 2
    health = status.health()
    assert not health["healthy"] and health["lag_seconds"] == 31
    assert health["reasons"] == ["behind etcd for 31s (bound 30s)"]


def test_catching_up_stops_the_lag_clock() -> None:
    status, clock = healthy_status()
    status.behind()
    clock.now += 10
    status.behind()  # a later change does not restart the clock
    status.caught_up(lambda: True)
    clock.now += 100
    status.heard(6)
    assert status.health()["lag_seconds"] == 0


def test_caught_up_only_when_the_condition_holds() -> None:
    status, clock = healthy_status()
    status.behind()
    status.caught_up(lambda: False)
    clock.now += 31
    assert not status.health()["healthy"]


def test_a_silent_etcd_is_unhealthy_after_the_bound() -> None:
    status, clock = healthy_status()
    clock.now += 39
    assert status.health()["healthy"]
    clock.now += 2
    health = status.health()
    assert health["reasons"] == ["nothing heard from etcd for 41s (bound 40s)"]
    status.heard(7)
    assert status.health()["healthy"] and status.health()["etcd_revision"] == 7


def test_metrics_carry_a_gauge_for_each_health_condition() -> None:
    status, clock = healthy_status()
    status.resource_failed("app", "reload: exited 1", reload=True)
    status.config_refused("x")
    status.behind()
    clock.now += 3
    metrics = status.metrics()
    for line in (
        "confpy_healthy 0",
        "confpy_failing_reloads 1",
        "confpy_config_refused 1",
        "confpy_lag_seconds 3.000",
        "confpy_etcd_silence_seconds 3.000",
        "confpy_etcd_revision 5",
        "confpy_reload_failures_total 0",
        "confpy_reloads_deferred_total 0",
        "confpy_config_refusals_total 0",
    ):
        assert line in metrics.splitlines(), line


def test_a_misspelt_counter_is_refused_rather_than_created() -> None:
    """`count()` knows its counters: a typo fails loudly instead of exporting a new one."""
    import pytest

    status, _ = healthy_status()
    with pytest.raises(ValueError, match="no such counter: renderz"):
        status.count("renderz")


def test_a_recovered_resource_leaves_the_failing_list() -> None:
    status, _ = healthy_status()
    status.resource_failed("app", "render: missing key", reload=False)
    status.resource_recovered("app")
    assert status.health()["healthy"] and status.health()["failing"] == {}


def test_resources_dropped_by_a_new_configuration_are_forgotten() -> None:
    status, _ = healthy_status()
    status.resource_failed("gone", "check: exited 1")
    status.resource_failed("kept", "reload: exited 1", reload=True)
    status.keep_resources({"kept"})
    health = status.health()
    assert set(health["failing"]) == {"kept"} and health["failing_reloads"] == ["kept"]
