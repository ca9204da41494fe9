"""Go's path.Match fast path (`confdpath.matcher`) agrees with `path_match` (issue 22)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.golib.path import BadPattern, matcher, path_match

# Few letters, so that patterns and names overlap often; every metacharacter of path.Match.
_PATTERN = st.text(alphabet="ab/*?[]^-\\", max_size=8)
_NAME = st.text(alphabet="ab/*?[]\\", max_size=8)


@given(_PATTERN, _NAME)
def test_matcher_agrees_with_path_match(pattern: str, name: str) -> None:
    """For any pattern and name, `matcher(pattern)(name)` is `path_match(pattern, name)`,
    bad patterns included (both raise BadPattern)."""
    try:
        expected: bool | type[BadPattern] = path_match(pattern, name)
    except BadPattern:
        expected = BadPattern
    try:
        got: bool | type[BadPattern] = matcher(pattern)(name)
    except BadPattern:
        got = BadPattern
    assert got == expected


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("/app/*", "/app/host", True),
        ("/app/*", "/app/db/host", False),  # `*` never matches `/`
        ("/app/*", "/apphost", False),
        ("/app/*", "/app/", True),
        ("/app/host", "/app/host", True),
        ("/app/host", "/app/hostname", False),
    ],
)
def test_a_directory_pattern_matches_as_go_does(pattern: str, name: str, matches: bool) -> None:
    """The fast path's common cases, as Go's path.Match answers them."""
    assert matcher(pattern)(name) is matches
