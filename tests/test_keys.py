"""Which keys a resource reads, what a change touches, what is watched."""

from hypothesis import given
from hypothesis import strategies as st

from confpy.config.keys import (
    PatternIndex,
    SortedKeys,
    key_matches,
    matches_any,
    relative_view,
    watch_ranges,
)
from confpy.store.snapshot import Snapshot


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
    index = PatternIndex(resources)
    assert index.touched(["/logstash/host"]) == {"fwd", "certs"}
    assert index.touched(["/logstash/ssl_certificate"]) == {"certs"}


def test_sorted_keys_find_a_subtree_without_its_siblings() -> None:
    """A pattern's range holds the key itself and its subtree, never `/apple` for `/app`."""
    index = SortedKeys(["/app", "/app/db/host", "/app0", "/apple", "/ap", "/app/x"])
    assert list(index.under("/app")) == ["/app", "/app/db/host", "/app/x"]


def test_sorted_keys_follow_added_and_removed_keys() -> None:
    """The daemon's index tracks the mirror: added keys are found, removed ones are not."""
    index = SortedKeys(["/a/1"])
    index.add("/a/0")
    index.add("/a/0")
    index.discard("/a/1")
    index.discard("/a/missing")
    assert list(index.under("/a")) == ["/a/0"]
    assert len(index) == 1


def test_snapshot_view_finds_a_resource_keys_by_range() -> None:
    """`Snapshot.view` is the template's view: prefix stripped, other resources' keys absent."""
    values = {f"/svc/{i:03d}/k{j}": b"v" for i in range(100) for j in range(3)}
    view = Snapshot(1, values).view("/svc/042", ["/svc/042"])
    assert view == {"/k0": b"v", "/k1": b"v", "/k2": b"v"}


def test_pattern_index_finds_resources_by_the_key_ancestors() -> None:
    """A changed key names the resources reading it or one of its parents, and no other."""
    index = PatternIndex({"a": ["/app"], "db": ["/app/db"], "apple": ["/apple"], "all": ["/"]})
    assert index.names("/app/db/host") == {"a", "db", "all"}
    assert index.names("/apple") == {"apple", "all"}


# Keys and patterns drawn from a small alphabet so that collisions, shared prefixes,
# empty segments, doubled and trailing slashes and the characters around "/" in
# code-point order ("." and "0") all come up often.
_text = st.text(alphabet="/ab.0", max_size=8)


@given(st.lists(_text, max_size=30), st.lists(_text, max_size=4))
def test_sorted_keys_agree_with_the_naive_scan(keys: list[str], patterns: list[str]) -> None:
    """Finding keys by range gives exactly the keys `matches_any` accepts, for any input."""
    expected = sorted({k for k in keys if matches_any(patterns, k)})
    assert SortedKeys(keys).matching(patterns) == expected


@given(st.lists(_text, max_size=30), st.lists(_text, max_size=4), _text)
def test_relative_view_by_range_agrees_with_the_naive_scan(
    keys: list[str], patterns: list[str], prefix: str
) -> None:
    """The indexed view equals the scanning one (keys in sorted order, as etcd returns them)."""
    values = {k: i for i, k in enumerate(sorted(set(keys)))}
    indexed = relative_view(values, prefix, patterns, index=SortedKeys(values))
    assert indexed == relative_view(values, prefix, patterns)
    assert list(indexed.items()) == list(relative_view(values, prefix, patterns).items())


@given(
    st.dictionaries(st.sampled_from("rstuvw"), st.lists(_text, max_size=3), max_size=6),
    st.lists(_text, max_size=10),
)
def test_pattern_index_agrees_with_the_naive_scan(
    resources: dict[str, list[str]], changed: list[str]
) -> None:
    """The resources a change touches are those with a pattern matching a changed key."""
    expected = {
        name
        for name, patterns in resources.items()
        if any(key_matches(p, k) for p in patterns for k in changed)
    }
    assert PatternIndex(resources).touched(changed) == expected
