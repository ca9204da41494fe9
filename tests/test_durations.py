"""Durations as users write them in flags and files."""

import pytest

from confpy.config.durations import parse_duration, parse_wait


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("90", 90), ("1.5", 1.5)],
)
def test_go_style_durations_parse_to_seconds(text: str, seconds: float) -> None:
    """Go-style units and bare numbers (seconds) are accepted."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "-1", "5m junk"])
def test_malformed_duration_is_rejected_with_the_text(text: str) -> None:
    """A bad duration raises ValueError quoting what was given."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_wait_window_parses_min_and_max() -> None:
    """`MIN:MAX` is consul-template's debounce window."""
    assert parse_wait("2s:10s") == (2, 10)


def test_wait_window_without_max_defaults_to_four_times_min() -> None:
    """As in consul-template, `MIN` alone means MAX = 4 * MIN."""
    assert parse_wait("1s") == (1, 4)


def test_wait_window_with_max_below_min_is_rejected() -> None:
    """MAX smaller than MIN makes no sense and is refused."""
    with pytest.raises(ValueError, match="MAX"):
        parse_wait("10s:2s")
