"""Shared helpers for tests that wipe an etcd under a running daemon: a store on an etcd
of the test's own, and who that etcd says it is (cluster ID, raft term)."""

from __future__ import annotations

import shutil

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer


def store_on(server: EtcdServer) -> EtcdStore:
    return EtcdStore(load_settings({"endpoints": server.url, "confdir": "/nonexistent"}, {}))


def identity(server: EtcdServer) -> tuple[int, int, int]:
    """The etcd's cluster ID, raft term and revision, from its status reply's header."""
    store = store_on(server)
    try:
        header = store._rpc("status", "/maintenance/status", {})["header"]
    finally:
        store.close()
    return int(header["cluster_id"]), int(header["raft_term"]), int(header["revision"])


def wipe(server: EtcdServer) -> None:
    """Kill the etcd, remove its data and start a new one on the same port and peer URL,
    with the same cluster token: the same cluster ID, from revision 1 again."""
    server.kill()
    shutil.rmtree(server.data_dir)
    server.start()
