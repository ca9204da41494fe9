"""`confpy check` validates configuration without etcd; `--help` starts light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Confpy
from tests.helpers import ConfTree


def test_check_accepts_a_valid_tree(tmp_path: Path, confpy_offline: Confpy) -> None:
    """A good configuration exits 0 and lists its resources."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "{{ getv('/a') }}", ["/a"])
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 0, result.stderr
    assert "1 resources OK" in result.stdout


def test_check_reports_every_problem_with_file_and_line(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """All broken files and templates are listed, one line each, exit 2."""
    tree = ConfTree(tmp_path)
    tree.simple("a", "{% if %}", ["/a"])
    tree.simple("b", "ok", ["/b"], extra='mode = "rw"\n')
    tree.resource("c", "[template\n")
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert len(errors) == 3, result.stderr
    assert any("a.j2:1:" in e for e in errors)
    assert any("b.toml:5: mode: must be an octal string" in e for e in errors)
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


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]


def test_check_reports_every_problem_of_every_file(tmp_path: Path, confpy_offline: Confpy) -> None:
    """The docs promise all problems: three in one file and two in another make five lines."""
    tree = ConfTree(tmp_path)
    tree.template("t.j2", "x")
    tree.resource(
        "a", '[template]\nsrc = "t.j2"\ndest = ""\nkeys = ["/a"]\nmode = "7777"\nuid = "x"\n'
    )
    tree.resource("b", '[template]\nsrc = "../../etc/passwd"\ndest = "/x"\nkeys = [1]\n')
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    errors = _errors(result)
    assert len(errors) == 5, result.stderr
    assert sum("a.toml:" in e for e in errors) == 3 and sum("b.toml:" in e for e in errors) == 2


def test_check_refuses_a_template_nested_too_deep_in_one_line(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """3,000 nested blocks are that template's problem, not a RecursionError traceback."""
    tree = ConfTree(tmp_path)
    tree.simple("deep", "{% if true %}" * 3000 + "x" + "{% endif %}" * 3000, ["/a"])
    tree.simple("fine", "{{ getv('/a') }}", ["/a"])
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    assert _errors(result) == [
        f"confpy: error: {tree.confdir}/templates/deep.j2: template is nested too deeply to compile"
    ]


def test_check_does_not_compute_huge_constants(tmp_path: Path, confpy_offline: Confpy) -> None:
    """`{{ 10 ** 5000 }}` is not folded at compile time (it fails, bounded, when rendered)."""
    tree = ConfTree(tmp_path)
    tree.simple("big", "{{ 10 ** 5000 }}{{ 10 ** 10 ** 10 }}", ["/a"])
    result = confpy_offline.run("check", "--confdir", str(tree.confdir), timeout=20)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_settings_file_value_of_the_wrong_type_names_file_and_line(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    tree = ConfTree(tmp_path)
    tree.simple("app", "x", ["/a"])
    (tree.confdir / "confpy.toml").write_text('log_level = "info"\nendpoints = 5\n')
    result = confpy_offline.run("check", "--confdir", str(tree.confdir))
    assert result.returncode == 2
    assert _errors(result) == [
        f"confpy: error: {tree.confdir}/confpy.toml:2: endpoints must be "
        "a string or an array of strings, not int"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--watch", "--health-addr", "127.0.0.1:99999"),
            "--health-addr: port 99999 is out of range (0-65535)",
        ),
        (("--interval", "0"), "--interval: must be more than zero, got '0'"),
        (("--interval", "nan"), "--interval: not a duration: 'nan'"),
        (("--wait-for-keys", "inf"), "--wait-for-keys: not a duration: 'inf'"),
    ],
)
def test_bad_render_flags_are_one_line_naming_the_flag(
    tmp_path: Path, confpy_offline: Confpy, args: tuple[str, ...], message: str
) -> None:
    """Refused before anything starts: no traceback, no file written, exit 2."""
    tree = ConfTree(tmp_path)
    dest = tree.simple("app", "x", ["/a"])
    result = confpy_offline.run("render", "--confdir", str(tree.confdir), *args, timeout=20)
    assert result.returncode == 2
    assert message in _errors(result)[0]
    assert not dest.exists()


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
