"""The layer rule: a package imports only from its own layer or the layers below it.

The layers are drawn in docs/architecture.md; this test reads every import in confpy/
(module level and inside functions: a lazy import is a dependency all the same) and
fails on one that runs upward, naming the module, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "confpy"

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "cli __main__",
        "commands",
        "demo",
        "testing",
        "fleet tls",
        "watch",
        "apply",
        "render convert",
        "gotemplate",
        "functions",
        "store supervise",
        "config",
        "golib",
        "errors log backoff wakeup workers limits redact __init__",
    )
)
"""Top to bottom. A name is a package of confpy, or a module at its top level."""


def _unit(module: str) -> str:
    """The package or top-level module a dotted `confpy.x.y` name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for depth, layer in enumerate(LAYERS):
        if unit in layer:
            return depth
    raise AssertionError(f"confpy.{unit} is in no layer: add it to LAYERS and the drawing")


def _submodule_or_package(name: str) -> str:
    is_module = (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
    return f"confpy.{name}" if is_module else "confpy"


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "confpy":  # a submodule, or a name of the package (__version__)
                found += [(node.lineno, _submodule_or_package(a.name)) for a in node.names]
            elif node.module.startswith("confpy."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("confpy.")]
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out.append((".".join(rel.parts), path))
    return out


def test_every_package_has_a_layer() -> None:
    """A new package or top-level module must be placed in the drawing before it is used."""
    units = {_unit(name) for name, _ in _modules()}
    for unit in units:
        _layer(unit)


def test_no_import_runs_upward() -> None:
    """Every import of a confpy module goes to the importer's own layer or one below."""
    upward = []
    for name, path in _modules():
        here = _layer(_unit(name))
        for line, target in _imports(path):
            if _layer(_unit(target)) < here:
                upward.append(f"{path.relative_to(ROOT)}:{line}: imports {target}")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: an import from the store up into the daemon is reported."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from confpy.watch.daemon import Daemon\n")
    [(line, target)] = _imports(module)
    assert line == 2 and _layer(_unit(target)) < _layer(_unit("confpy.store.etcd"))
