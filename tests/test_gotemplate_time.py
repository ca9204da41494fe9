"""confd's `datetime` as Go's time.Time (names, locations, the monotonic clock reading), and
the corpus of cases only the direct engine renders as confd does."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from confpy.errors import ConfpyError
from confpy.golib import time as builtins
from confpy.gotemplate.engine import GoTemplate
from confpy.gotemplate.gofmt import sprint


def render(source: str) -> str:
    return GoTemplate.compile(source, "t.tmpl").render({}).decode()


def test_month_and_weekday_print_their_names() -> None:
    """time.Month and time.Weekday are Stringers: printed as names, %d as numbers."""
    t = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
    month, day = builtins._time_method(t, "Month", ()), builtins._time_method(t, "Weekday", ())
    assert sprint(month, " ", day) == "March Monday"
    assert (int(month), int(day)) == (3, 1)


def test_datetime_month_renders_as_a_name_of_type_time_month() -> None:
    """`{{datetime.Month}}` is this month's name; `%T` says time.Month and time.Weekday."""
    out = render('{{datetime.Month}}|{{printf "%T %T %d" datetime.Month datetime.Weekday 1}}')
    name, types = out.split("|")
    assert name in builtins._MONTHS
    assert types == "time.Month time.Weekday 1"


def test_location_of_utc_and_local_time() -> None:
    """`.Location` is a *time.Location printing "UTC" after `.UTC`, "Local" otherwise."""
    out = render(
        '{{datetime.UTC.Location}} {{datetime.Location}} {{printf "%T" datetime.Location}}'
    )
    assert out == "UTC Local *time.Location"


def test_printed_time_now_carries_the_monotonic_reading() -> None:
    """Go prints time.Now with ` m=+S.NNNNNNNNN`; `.UTC` and `.Local` drop the reading."""
    now, utc, local = render("{{datetime}}|{{datetime.UTC}}|{{datetime.Local.String}}").split("|")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [-+]\d{4} \S+ m=\+\d+\.\d{9}", now)
    assert " m=" not in utc and " m=" not in local
    assert utc.endswith(" +0000 UTC")


def test_time_now_has_nanosecond_precision() -> None:
    """`.Nanosecond` and the printed fraction carry nine digits, as Go's clock gives them."""
    t = builtins.time_now()
    assert 0 <= builtins._time_method(t, "Nanosecond", ()) < 10**9
    assert builtins.go_time_format(t, ".000000000") == f".{t.nanos:09d}"


GO_ONLY_CORPUS = Path(__file__).parent / "gocorpus_go"
"""Cases from confd (layout of tests/gocorpus) that `confpy convert` does not yet keep or
refuse (js of Unicode 14, slice within capacity, lookupIP, time.Month): the direct engine's
alone until convert handles them, then they join tests/gocorpus."""


@pytest.mark.parametrize("case", sorted(p.name for p in GO_ONLY_CORPUS.iterdir()))
def test_go_only_corpus_case_renders_bytes_confd_renders(case: str) -> None:
    """Each case prints exactly confd's bytes, or fails where confd fails."""
    d = GO_ONLY_CORPUS / case
    keys = json.loads((d / "keys.json").read_text())["keys"]
    template = GoTemplate.compile((d / "template.tmpl").read_text(), str(d / "template.tmpl"))
    if not (d / "expected.out").is_file():
        with pytest.raises(ConfpyError):
            template.render(keys)
        return
    assert template.render(keys) == (d / "expected.out").read_bytes()
