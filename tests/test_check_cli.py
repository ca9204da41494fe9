"""`confpy check` validates configuration without etcd; `--help` starts light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Confpy
from tests.helpers import ConfTree


def test_check_accepts_a_valid_tree(tmp_path: Path, confpy_offline: Confpy) -> None:
    """A good configuration exits 0 and lists its resources."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/a') }}", ["/a"])
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 0, result.stderr
    assert "1 resources OK" in result.stdout


def test_check_reports_every_problem_with_file_and_line(tmp_path: Path, confpy_offline: Confpy) -> None:
    """All broken files and templates are listed, one line each, exit 2."""
    tree = ConfTree(tmp_path)
    tree.simple("a", "{% if %}", ["/a"])
    tree.simple("b", "ok", ["/b"], extra="bogus = 1\n")
    tree.resource("c", "[template\n")
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert len(errors) == 3, result.stderr
    assert any("a.j2:1:" in e for e in errors)
    assert any("b.toml:5: bogus: unknown field" in e for e in errors)
    assert any("c.toml:1: invalid TOML" in e for e in errors)
    assert "Traceback" not in result.stderr


def test_unknown_flag_is_a_usage_error(confpy_offline: Confpy) -> None:
    """A wrong flag exits 2 with one line."""
    result = confpy_offline.run("render", "--bogus")
    assert result.returncode == 2
    assert result.stderr.startswith("confpy: error:") and "--bogus" in result.stderr


def test_bad_duration_names_the_flag(confpy_offline: Confpy) -> None:
    """`--wait-for-keys 5x` says which flag is wrong."""
    result = confpy_offline.run("render", "--wait-for-keys", "5x")
    assert result.returncode == 2
    assert "--wait-for-keys: not a duration" in result.stderr


def modules_loaded_by(*argv: str) -> set[str]:
    code = (
        "import sys, contextlib, io\n"
        "from confpy.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    main({list(argv)!r})\n"
        "print(' '.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_help_does_not_import_grpc_or_jinja() -> None:
    """`confpy --help` stays fast for container boot: no grpc, etcd3, jinja2 or cryptography."""
    loaded = modules_loaded_by("--help")
    assert not {"grpc", "etcd3", "jinja2", "cryptography"} & loaded


def test_check_does_not_import_grpc(tmp_path: Path) -> None:
    """`confpy check` needs no etcd client at all."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "x", ["/a"])
    loaded = modules_loaded_by("check", "--confdir", str(tree.confdir))
    assert "grpc" not in loaded and "etcd3" not in loaded
