"""The installed confpy needs no gRPC: its runtime dependency closure has no grpcio or protobuf."""

from __future__ import annotations

import re
from importlib import metadata

FORBIDDEN = {"grpcio", "protobuf", "python3-etcd3", "etcd3", "grpcio-tools"}


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_requirements(dist: str) -> list[str]:
    """`dist`'s requirements without extras (what `pip install dist` installs)."""
    return [_name(r) for r in metadata.requires(dist) or [] if "extra ==" not in r]


def test_pip_install_brings_no_grpc_or_protobuf() -> None:
    """Walk the installed requirement graph from confpy (no extras): none of grpcio,
    protobuf or an etcd3 client is in it. (By hand: `pip install .` in a fresh venv, then
    `pip list` shows none of them; see docs/operations.md.)"""
    seen: set[str] = set()
    todo = ["confpy"]
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            todo += _runtime_requirements(dist)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
    assert "jinja2" in seen  # the walk did find confpy's real dependencies
    assert not FORBIDDEN & seen


def test_importing_the_store_loads_no_grpc() -> None:
    """The store speaks JSON over sockets: importing it loads no grpc, protobuf or etcd3."""
    import subprocess
    import sys

    code = (
        "import sys, confpy.store; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google', 'etcd3')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
