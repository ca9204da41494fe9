"""The user documentation keeps up with the code: flags, resource fields, links."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from confpy.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser`, depth first (`tls rotate` and `tls show` included)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found.append(sub)
                found.extend(_subparsers(sub))
    return found


def _flags() -> list[tuple[str, str]]:
    """(command, option string) for every long flag a subcommand's --help shows."""
    out: list[tuple[str, str]] = []
    for sub in _subparsers(build_parser()):
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    out.append((sub.prog, option))
    return sorted(set(out))


def _resource_fields() -> set[str]:
    """The fields a resource file may set (confpy.resource.KNOWN_FIELDS)."""
    from confpy.resource import KNOWN_FIELDS

    return set(KNOWN_FIELDS)


def _relative_links() -> list[tuple[str, str]]:
    """(document, target) for every relative Markdown link in docs/*.md and README.md."""
    out: list[tuple[str, str]] = []
    for doc in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            out.append((str(doc.relative_to(ROOT)), target))
    return out


def test_every_subcommand_has_flags_to_check() -> None:
    """The flag walk reaches every subcommand, so the flag test cannot pass vacuously."""
    commands = {prog for prog, _ in _flags()}
    assert {"confpy render", "confpy exec", "confpy tls rotate", "confpy tls show"} <= commands


@pytest.mark.parametrize(("command", "flag"), _flags())
def test_flag_is_documented(command: str, flag: str) -> None:
    """Every flag a subcommand's --help shows appears in docs/configuration.md."""
    assert f"`{flag}" in CONFIGURATION.read_text(), f"{command} {flag} is not documented"


@pytest.mark.parametrize("field", sorted(_resource_fields()))
def test_resource_field_is_documented(field: str) -> None:
    """Every field confpy/resource.py accepts appears in docs/configuration.md."""
    assert f"`{field}`" in CONFIGURATION.read_text(), f"resource field {field} is not documented"


def test_docs_have_relative_links_to_check() -> None:
    """README.md and the docs do link to each other, so the link test cannot pass vacuously."""
    assert len(_relative_links()) > 5


@pytest.mark.parametrize(("document", "target"), _relative_links())
def test_relative_link_points_at_an_existing_file(document: str, target: str) -> None:
    """Every relative link in docs/*.md and README.md names a file that exists."""
    path = target.split("#", 1)[0]
    assert ((ROOT / document).parent / path).exists(), f"{document}: broken link {target}"
