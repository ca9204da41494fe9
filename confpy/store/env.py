"""confd's env backend: keys read from environment variables, `/app/db/host` <-> `APP_DB_HOST`.

As confd's backends/env: a resource key is upper-cased with `/` turned into `_`, every
variable whose name starts with that text is read, and its name becomes the key
`/` + lower-cased name with `_` turned into `/`. Variables do not change while the
process runs: there is nothing to watch (confd's watch waits for ever, so does this).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence

from confpy.config.keys import matches_any
from confpy.store.datafile import REVISION, DataStore
from confpy.store.snapshot import Snapshot, WatchBatch


def variable_prefix(key: str) -> str:
    """confd's `transform`: the variable-name prefix a key reads (`/app/db` -> `APP_DB`)."""
    return key.removeprefix("/").replace("/", "_").upper()


def key_of(variable: str) -> str:
    """confd's `clean`: the key a variable is read as (`APP_DB_HOST` -> `/app/db/host`)."""
    return ("/" + variable).lower().replace("_", "/")


class EnvStore(DataStore):
    """A read-only Store over this process's environment, mapped as confd maps it."""

    source = "the env backend"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.environ = {k: v.encode("utf-8", "surrogateescape") for k, v in env.items()}
        super().__init__({key_of(k): v for k, v in self.environ.items()})

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        values: dict[str, bytes] = {}
        for pattern in patterns:
            start = variable_prefix(pattern)
            for name in sorted(self.environ):
                key = key_of(name)
                # confd matches by name prefix; a resource then reads the keys below its
                # own (`/app` does not read `/apple`), as with every confpy store.
                if name.startswith(start) and matches_any([pattern], key):
                    values[key] = self.environ[name]
        return Snapshot(REVISION, values)

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        stop.wait()
        return
        yield
