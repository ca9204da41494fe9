"""Open the store a `--backend`/`-backend` names: etcd, the environment, or YAML files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from confpy.errors import ConfigError

if TYPE_CHECKING:
    from confpy.config.settings import Settings
    from confpy.store.snapshot import Store


def open_store(backend: str, settings: Settings, files: Sequence[str], filter: str) -> Store:
    """`etcdv3`/`etcd`: etcd through its v3 API; `env`: variables; `file`: YAML files."""
    if backend == "env":
        from confpy.store.env import EnvStore

        return EnvStore()
    if backend == "file":
        from pathlib import Path

        from confpy.store.file import FileStore

        if not files:
            raise ConfigError("the file backend needs at least one -file/--file")
        return FileStore([Path(f) for f in files], filter or "*")
    from confpy.store import EtcdStore

    return EtcdStore(settings)
