"""The systemd units in units/: valid for systemd, and every confpy command line in them parses."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from confpy.cli import build_parser

UNITS = sorted((Path(__file__).resolve().parent.parent / "units").rglob("*.service"))
# What systemd-analyze says on a machine without confpy, docker or the units they need;
# anything else (an unknown key, a bad section, a syntax error) fails the test.
ENVIRONMENTAL = re.compile(r"is not executable|Unit \S+ not found|Failed to create \S+/start")


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value); backslash continuations joined."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("["):
            assert stripped.endswith("]"), f"{path}:{number}: bad section header"
            current = stripped[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"{path}:{number}: setting outside a section"
        key, sep, value = stripped.partition("=")
        assert sep, f"{path}:{number}: not key=value"
        sections[current].append((key.strip(), value.strip()))
    return sections


def confpy_command_lines(path: Path) -> list[list[str]]:
    out = []
    for section in parse_unit(path).values():
        for key, value in section:
            if key.startswith("Exec"):
                argv = shlex.split(value.lstrip("-@+!"))
                if argv and argv[0].endswith("/confpy"):
                    # systemd expands ${VAR}; any address does for parsing.
                    out.append([re.sub(r"\$\{?\w+\}?", "10.0.0.1", a) for a in argv[1:]])
    return out


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_unit_has_service_and_install_sections(unit: Path) -> None:
    """Every unit parses and says what it runs and where it is installed."""
    sections = parse_unit(unit)
    assert "Service" in sections and ("Install" in sections or "X-Fleet" in sections)
    assert any(k == "ExecStart" for k, _ in sections["Service"])


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_confpy_command_in_a_unit_parses(unit: Path) -> None:
    """A unit never passes confpy a flag it does not have."""
    commands = confpy_command_lines(unit)
    assert commands, f"{unit} runs no confpy command"
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)
        assert args.func is not None


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize(
    "unit", [u for u in UNITS if u.parent.name == "units"], ids=lambda p: p.name
)
def test_systemd_analyze_verify_finds_nothing_but_missing_binaries(unit: Path) -> None:
    """systemd's own checker accepts the unit (missing binaries and docker aside)."""
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not ENVIRONMENTAL.search(line)
    ]
    assert not problems, problems


def test_notify_unit_is_type_notify_with_watchdog_and_health() -> None:
    """confpy.service relies on READY=1 and WATCHDOG=1 and exposes /healthz."""
    service = dict(
        parse_unit(
            next(u for u in UNITS if u.name == "confpy.service" and u.parent.name == "units")
        )["Service"]
    )
    assert service["Type"] == "notify" and "WatchdogSec" in service
    assert "--health-addr" in service["ExecStart"] and "render --watch" in service["ExecStart"]
