"""confpy ships whole: a built wheel, installed in a fresh venv, runs the demo from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import confpy

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_the_package_list_names_every_package_in_the_source_tree() -> None:
    """pyproject lists packages by hand (to map templates/ and units/ in): none may be missing."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "confpy").rglob("__init__.py")
    }
    assert found <= listed


def test_the_version_is_written_once_in_the_package() -> None:
    """pyproject reads the version from confpy.__version__ rather than repeating it."""
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]  # type: ignore[operator]
    assert confpy.__version__.count(".") >= 2


@pytest.mark.slow
@pytest.mark.timeout(600)  # builds a wheel and installs it, with its dependencies, into a venv
def test_demo_runs_from_an_installed_wheel_in_an_empty_directory(tmp_path: Path) -> None:
    """Build the wheel, install it with the demo extra into a fresh venv, run `confpy demo` in /tmp."""
    dist, venv, empty = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONFPY_", "PYTHON", "VIRTUAL_ENV", "ETCD"))
    }

    def run(*args: str | Path, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{args[:3]}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        return result

    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT)
    (wheel,) = dist.glob("confpy-*.whl")
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", f"{wheel}[demo]")
    version = run(venv / "bin" / "confpy", "--version", cwd=empty)
    assert version.stdout.strip() == f"confpy {confpy.__version__}"
    demo = run(venv / "bin" / "confpy", "demo", cwd=empty)
    assert "Demo finished" in demo.stdout
    assert list(empty.iterdir()) == []
