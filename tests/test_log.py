"""Log lines: JSON written without structlog is the line structlog would have written."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy import log


@pytest.fixture(autouse=True)
def unconfigure() -> Iterator[None]:
    """Each test configures logging itself; afterwards events go to structlog's defaults."""
    yield
    log._state.level = None
    log._state.json = False
    import structlog

    structlog.reset_defaults()


def _structlog_line(name: str, event: str, **kw: object) -> dict[str, object]:
    """The event as confpy's structlog configuration (console path) renders it, as JSON."""
    buf = io.StringIO()
    log.configure("info", "console", buf)
    log._apply()
    import structlog

    structlog.configure(
        processors=[*structlog.get_config()["processors"][:-1], structlog.processors.JSONRenderer()]
    )
    log.Logger(name).info(event, **kw)
    return dict(json.loads(buf.getvalue()))


def test_json_lines_match_structlog_field_for_field() -> None:
    """Same keys in the same order (fields, event, logger, level, timestamp), same values."""
    buf = io.StringIO()
    log.configure("info", "json", buf)
    log.get_logger("confpy.apply.runner").info(
        "installed", resource="a", revision=7, dest=Path("/x")
    )
    ours = json.loads(buf.getvalue())
    theirs = _structlog_line(
        "confpy.apply.runner", "installed", resource="a", revision=7, dest=Path("/x")
    )
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k != "timestamp"} == {
        k: v for k, v in theirs.items() if k != "timestamp"
    }
    assert str(ours["timestamp"]).endswith("Z")


def test_events_below_the_level_write_nothing() -> None:
    """`--log-level warning` drops info events."""
    buf = io.StringIO()
    log.configure("warning", "json", buf)
    log.get_logger("confpy.watch.daemon").info("watching")
    log.get_logger("confpy.watch.daemon").warning("watch broken")
    assert [json.loads(line)["event"] for line in buf.getvalue().splitlines()] == ["watch broken"]
