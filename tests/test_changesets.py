"""Change sets: resources that share a tie are installed together; pure, no I/O."""

from __future__ import annotations

from collections.abc import Hashable

from confpy.watch.changesets import change_sets, transaction_ties


def ties_from(table: dict[str, list[Hashable]]):  # type: ignore[no-untyped-def]
    return lambda name: table[name]


def test_resources_without_a_common_tie_each_form_their_own_set() -> None:
    assert change_sets(["a", "b"], ties_from({"a": ["x"], "b": ["y"]})) == [["a"], ["b"]]


def test_a_shared_reload_action_puts_resources_in_one_set() -> None:
    """A certificate and its key reload nginx: both files, or neither."""
    ties = ties_from(
        {
            "cert": [("reload_cmd", "nginx -s reload")],
            "key": [("reload_cmd", "nginx -s reload")],
            "other": [],
        }
    )
    assert change_sets(["cert", "other", "key"], ties) == [["cert", "key"], ["other"]]


def test_ties_join_transitively() -> None:
    """a-b share one tie, b-c another: all three are one set."""
    ties = ties_from({"a": [1], "b": [1, 2], "c": [2], "d": [3]})
    assert change_sets(["a", "b", "c", "d"], ties) == [["a", "b", "c"], ["d"]]


def test_sets_and_members_keep_the_input_order() -> None:
    ties = ties_from({"z": [1], "y": [2], "x": [1], "w": [2]})
    assert change_sets(["z", "y", "x", "w"], ties) == [["z", "x"], ["y", "w"]]


def test_one_transaction_ties_the_resources_it_touched() -> None:
    """Two keys written by one etcd transaction (one revision) land in one change set."""
    revisions = {"tls-cert": {7}, "tls-key": {7, 9}, "app": {8}}
    sets = change_sets(
        ["app", "tls-cert", "tls-key"], lambda name: transaction_ties(revisions[name])
    )
    assert sets == [["app"], ["tls-cert", "tls-key"]]


def test_no_resources_no_sets() -> None:
    assert change_sets([], ties_from({})) == []
