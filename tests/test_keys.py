"""Which keys a resource reads, what a change touches, what is watched."""

from confpy.keys import key_matches, relative_view, touched, watch_ranges


def test_key_matches_itself_and_its_subtree() -> None:
    """A key in `keys` covers itself and everything below it, as in confd."""
    assert key_matches("/app", "/app")
    assert key_matches("/app", "/app/db/host")


def test_key_does_not_match_a_sibling_sharing_its_prefix() -> None:
    """`/app` is not `/apple`: matching is by path segment, not by string prefix."""
    assert not key_matches("/app", "/apple")


def test_root_pattern_matches_everything() -> None:
    """`/` covers the whole key space."""
    assert key_matches("/", "/anything/at/all")


def test_relative_view_strips_the_resource_prefix() -> None:
    """Templates see keys relative to the resource prefix."""
    values = {"/prod/app/host": 1, "/prod/app/port": 2, "/prod/other": 3}
    assert relative_view(values, "/prod/app", ["/prod/app/host", "/prod/app/port"]) == {
        "/host": 1,
        "/port": 2,
    }


def test_watch_ranges_drop_patterns_covered_by_a_shorter_one() -> None:
    """`/app` and `/app/db` need one watch range."""
    assert watch_ranges(["/app/db", "/app", "/logstash"]) == ["/app", "/logstash"]


def test_a_change_touches_only_resources_reading_that_key() -> None:
    """Only resources whose patterns match a changed key are re-rendered."""
    resources = {"es": ["/elasticsearch"], "fwd": ["/logstash/host"], "certs": ["/logstash"]}
    assert touched(["/logstash/host"], resources) == {"fwd", "certs"}
    assert touched(["/logstash/ssl_certificate"], resources) == {"certs"}
