"""Where the data comes from, and its shape: the one `Store` protocol and `Snapshot`
(`snapshot`, no network), the etcd client (`etcd`: the only code that talks to etcd, with
its private modules `_wire`, `_http`, `_errors`, `_watch`...), and the read-only stores
for `--data` fixtures and confd's env and file backends (`datafile`, `env`, `file`).

`EtcdStore` is imported from here lazily: reading `confpy.store.snapshot` must not load
the network stack (`confpy --help` and `check` never do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confpy.store.etcd import Entry, EtcdStore, Limits, prefix_end

__all__ = ["Entry", "EtcdStore", "Limits", "prefix_end"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from confpy.store import etcd

        return getattr(etcd, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
