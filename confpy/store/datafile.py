"""Keys from a JSON or YAML fixture file instead of etcd: `confpy render --onetime --data FILE`.

The file holds either a flat object of `"/key": "value"` or nested objects whose paths
join with `/` (both may be mixed). Numbers and booleans become their text, YAML
`!!binary` values stay raw bytes. Every mistake is a ConfigError naming the file and
line; no value ever appears in a message.

The file is bounded before it is walked (`confpy.limits`): at most MAX_DATA_BYTES are
read; JSON nesting is measured before `json.loads` recurses; YAML is composed by
`confpy.golib.yaml_bounded`, which counts each alias as the whole node it names, so an alias
bomb or a self-referencing anchor is refused before anything is expanded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from confpy.config.keys import join_key, matches_any
from confpy.errors import ConfigError
from confpy.golib.yaml_bounded import DataLimitError, compose_bounded
from confpy.limits import MAX_DATA_BYTES, MAX_DATA_DEPTH, json_too_deep
from confpy.store.snapshot import Snapshot, WatchBatch

REVISION = 1
"""Fixture data has one revision: templates and logs see it as etcd's."""


class DataStore:
    """A read-only Store over fixture data: snapshots only, nothing to watch or write."""

    source = "--data"
    """What the data comes from, as messages name it (subclasses read other sources)."""

    def __init__(self, values: Mapping[str, bytes]) -> None:
        self.values = dict(values)

    @classmethod
    def from_file(cls, path: Path) -> DataStore:
        return cls(load_data(path))

    def snapshot(self, patterns: Sequence[str]) -> Snapshot:
        return Snapshot(
            REVISION, {k: v for k, v in self.values.items() if matches_any(patterns, k)}
        )

    def get(self, key: str) -> tuple[bytes | None, int]:
        value = self.values.get(key)
        return value, (REVISION if value is not None else 0)

    def watch(
        self, patterns: Sequence[str], start_revision: int, stop: threading.Event
    ) -> Iterator[WatchBatch]:
        raise ConfigError(f"{self.source} renders once: it cannot be watched")

    def put(self, key: str, value: bytes, *, lease: int | None = None) -> int:
        raise ConfigError(f"{self.source} is read-only")

    def delete(self, key: str) -> int:
        raise ConfigError(f"{self.source} is read-only")

    def put_atomic(
        self, values: Mapping[str, bytes], expect: Mapping[str, int], delete: Sequence[str] = ()
    ) -> int:
        raise ConfigError(f"{self.source} is read-only")

    def grant_lease(self, ttl: int) -> int:
        raise ConfigError(f"{self.source} is read-only")

    def keep_alive(self, lease_id: int) -> int:
        raise ConfigError(f"{self.source} is read-only")

    def revoke_lease(self, lease_id: int, *, timeout: float | None = None) -> None:
        raise ConfigError(f"{self.source} is read-only")

    def cancelled_by(self, stop: threading.Event) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # a file is read at once: nothing to cancel

    def close(self) -> None:
        pass


def load_data(path: Path) -> dict[str, bytes]:
    """Read a fixture file into absolute keys and byte values; ConfigError names file:line."""
    try:
        with path.open("rb") as f:  # never more than the limit: /dev/zero is a file too
            raw = f.read(MAX_DATA_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"--data: cannot read: {e.strerror}", file=str(path)) from None
    if len(raw) > MAX_DATA_BYTES:
        raise ConfigError(
            f"--data: larger than the limit of {MAX_DATA_BYTES} bytes", file=str(path)
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError("--data: not UTF-8 text", file=str(path), line=line) from None
    if path.suffix.lower() == ".json":
        return _Flattener(path, text).json()
    return _Flattener(path, text).yaml()


class _Flattener:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.out: dict[str, bytes] = {}
        self.is_json = False

    def error(self, message: str, line: int | None, near: str = "") -> ConfigError:
        if line is None and near and self.is_json:
            # JSON keeps no positions: look for the key's name, only once there is an error.
            line = self._find(near.rsplit("/", 1)[-1])
        return ConfigError(f"--data: {message}", file=str(self.path), line=line)

    # JSON: positions come from the text, since json.loads keeps none.

    def json(self) -> dict[str, bytes]:
        self.is_json = True

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for k, v in items:
                if k in seen:
                    raise self.error(f"key {k!r} appears twice in one object", self._find(k))
                seen[k] = v
            return seen

        deep = json_too_deep(self.text, MAX_DATA_DEPTH)
        if deep is not None:
            line = self.text.count("\n", 0, deep) + 1
            raise self.error(f"nested more than {MAX_DATA_DEPTH} levels deep", line)
        try:
            # Numbers keep the text they were written as: 1.10 stays "1.10".
            data = json.loads(self.text, object_pairs_hook=pairs, parse_float=str, parse_int=str)
        except json.JSONDecodeError as e:
            raise self.error(f"invalid JSON: {e.msg}", e.lineno) from None
        self.walk(data, "")
        return self.out

    def _find(self, name: str) -> int | None:
        needle = json.dumps(name)
        for number, line in enumerate(self.text.splitlines(), start=1):
            if needle in line:
                return number
        return None

    # YAML: composed nodes carry their line.

    def yaml(self) -> dict[str, bytes]:
        import yaml

        try:
            node = compose_bounded(self.text)
        except DataLimitError as e:
            raise self.error(e.message, e.line) from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise self.error(f"invalid YAML: {e.problem or e.context}", line) from None
        except yaml.YAMLError as e:
            raise self.error(f"invalid YAML: {type(e).__name__}", None) from None
        if node is None:
            return self.out
        self.walk_node(node, "")
        return self.out

    def walk_node(self, node: Any, path: str) -> None:
        import yaml

        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.error("a key must be a string", key_node.start_mark.line + 1)
                name = key_node.value
                if name in seen:
                    raise self.error(
                        f"key {name!r} appears twice in one mapping", key_node.start_mark.line + 1
                    )
                seen.add(name)
                self.walk_node(value_node, self.join(path, name, key_node.start_mark.line + 1))
            return
        if isinstance(node, yaml.SequenceNode):
            raise self.error(self.not_a_value(path, "a list"), line)
        value: Any = node.value  # scalars keep the text they were written as (1.10, yes)
        if node.tag == "tag:yaml.org,2002:null":
            value = None
        elif node.tag == "tag:yaml.org,2002:binary":
            try:
                value = base64.b64decode("".join(node.value.split()), validate=True)
            except (ValueError, binascii.Error):
                raise self.error(f"key {path}: invalid !!binary (base64)", line) from None
        self.put(path, value, line)

    # Shared: walk a parsed tree.

    def walk(self, data: Any, path: str) -> None:
        if isinstance(data, dict):
            for name, value in data.items():
                self.walk(value, self.join(path, name, None))
            return
        if isinstance(data, list):
            raise self.error(self.not_a_value(path, "a list"), None, path)
        self.put(path, data, None)

    def put(self, path: str, value: Any, line: int | None) -> None:
        if not path:
            raise self.error("the top level must be an object of keys", line, path)
        if value is None:
            raise self.error(f'key {path}: null is not a value (write "" for empty)', line, path)
        if isinstance(value, bool):
            data = b"true" if value else b"false"
        elif isinstance(value, bytes):
            data = value
        elif isinstance(value, int | float | str):
            try:
                data = str(value).encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise self.error(
                    f"key {path}: not encodable as UTF-8 (use YAML !!binary for raw bytes)",
                    line,
                    path,
                ) from None
        else:
            raise self.error(f"key {path}: a {type(value).__name__} is not a value", line, path)
        if path in self.out:
            raise self.error(f"key {path} is defined twice", line, path)
        self.out[path] = data

    def join(self, path: str, name: Any, line: int | None) -> str:
        if not isinstance(name, str) or not name.strip("/"):
            raise self.error(f"{path or 'top level'}: empty key name", line, path or "")
        return self.join_unchecked(path, name)

    @staticmethod
    def join_unchecked(path: str, name: str) -> str:
        return join_key(path, name)

    @staticmethod
    def not_a_value(path: str, what: str) -> str:
        return f"key {path or '/'}: {what} is not a value (write it as a string, e.g. JSON text)"
