"""docs/architecture.md names real code: every `module.name` or `Class.member` it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def _defined() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Top-level names per module basename, and members per class name, across confpy/."""
    modules: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {}
    for path in (ROOT / "confpy").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules.setdefault(path.parent.name, set()).add(path.stem)  # package.submodule
        names = modules.setdefault(
            path.stem if path.stem != "__init__" else path.parent.name, set()
        )
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, set()).update(
                    n.name
                    for n in node.body
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                )
    return modules, classes


def test_every_dotted_name_in_the_architecture_page_exists() -> None:
    modules, classes = _defined()
    cited = set(re.findall(r"`([A-Za-z_]\w*\.[A-Za-z_]\w*)`", DOC.read_text()))
    missing = sorted(
        name
        for name in cited
        if not (
            name.split(".")[1] in modules.get(name.split(".")[0], set())
            or name.split(".")[1] in classes.get(name.split(".")[0], set())
        )
    )
    assert cited and not missing, f"stale names in docs/architecture.md: {missing}"


def test_every_module_and_package_is_on_the_map() -> None:
    """The page names every package and every module of confpy/ (in backticks), so a
    newcomer finds any of them there; a new module is added to the page with its job."""
    text = DOC.read_text()
    named = set(re.findall(r"`([A-Za-z_][\w]*)/?`", text))
    missing = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "confpy").rglob("*.py")
        if (path.stem if path.stem != "__init__" else path.parent.name) not in named
        and path.stem != "__main__"
        and path != ROOT / "confpy" / "__init__.py"
    )
    assert not missing, f"not on the map in docs/architecture.md: {missing}"


def test_no_module_is_over_400_lines() -> None:
    """The founders' rule: no module under confpy/ over 400 lines; a module that grows
    past it is split by job, so each stays readable whole."""
    over = sorted(
        f"{path.relative_to(ROOT)} ({n})"
        for path in (ROOT / "confpy").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 400
    )
    assert not over, f"modules over 400 lines: {over}"
