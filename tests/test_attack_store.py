"""The store against an etcd whose replies lie in their content: never a silent wrong value.

A reply that is well-formed HTTP and JSON but holds what etcd never sends (a value that is
not base64, a revision etcd cannot have) is a StoreUnavailableError (retried, like any
unreachable endpoint), never a snapshot with an empty value or an absurd revision that
every later, true snapshot would then look "older" than.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from confpy.config.settings import Endpoint, Settings, parse_endpoint
from confpy.errors import StoreUnavailableError
from confpy.store import EtcdStore
from tests.fake_etcd import FakeEtcd, reply


@pytest.fixture
def lying() -> Iterator[Callable[[dict[str, Any]], EtcdStore]]:
    """A store on a fake etcd that answers every request with one JSON body."""
    opened: list[tuple[FakeEtcd, EtcdStore]] = []

    def make(body: dict[str, Any]) -> EtcdStore:
        def script(conn: socket.socket, fake: FakeEtcd) -> None:
            while fake.read_request(conn) is not None:
                conn.sendall(reply(body))

        fake = FakeEtcd(script)
        endpoint: Endpoint = parse_endpoint(fake.url)
        store = EtcdStore(Settings(endpoints=(endpoint,)), timeout=2.0)
        opened.append((fake, store))
        return store

    yield make
    for fake, store in opened:
        store.close()
        fake.close()


def txn(kv: dict[str, str], revision: str = "5") -> dict[str, Any]:
    return {
        "header": {"cluster_id": "1", "member_id": "2", "revision": revision},
        "responses": [{"response_range": {"kvs": [kv], "count": "1"}}],
    }


def test_a_value_that_is_not_base64_is_an_error_not_an_empty_value(
    lying: Callable[[dict[str, Any]], EtcdStore],
) -> None:
    """`"value": "***"` was decoded leniently to b"": the file would be rendered empty."""
    store = lying(txn({"key": "L2EvYg==", "value": "***", "mod_revision": "5"}))
    with pytest.raises(StoreUnavailableError, match="base64"):
        store.snapshot(["/a"])


def test_a_key_that_is_not_base64_is_an_error_not_an_empty_key(
    lying: Callable[[dict[str, Any]], EtcdStore],
) -> None:
    """`"key": "!!!"` was read as the key "" (and kept in the snapshot)."""
    store = lying(txn({"key": "!!!", "value": "eA==", "mod_revision": "5"}))
    with pytest.raises(StoreUnavailableError, match="base64"):
        store.snapshot(["/a"])


@pytest.mark.parametrize("revision", ["-5", "9" * 30, "1e3"])
def test_a_revision_etcd_cannot_have_is_an_error(
    lying: Callable[[dict[str, Any]], EtcdStore], revision: str
) -> None:
    """etcd's revisions are int64 from 0: a negative or 30-digit one was taken as it was."""
    store = lying(txn({"key": "L2EvYg==", "value": "eA==", "mod_revision": "5"}, revision))
    with pytest.raises(StoreUnavailableError, match="revision"):
        store.snapshot(["/a"])
