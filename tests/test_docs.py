"""The user documentation keeps up with the code: flags, resource fields, links."""

from __future__ import annotations

import argparse
import ast
import functools
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
    """The fields a resource file may set (confpy.config.fields.KNOWN_FIELDS)."""
    from confpy.config.fields import KNOWN_FIELDS

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


# -- exit codes: each command's --help is the source; configuration.md and
# troubleshooting.md must agree with it and with the errors the code raises.

TROUBLESHOOTING = DOCS / "troubleshooting.md"
# Words whose presence in an exit code's meaning must agree between --help and the docs.
EXIT_KEYWORDS = ("refused", "--wait-for-keys", "SIGTERM", "race", "CMD")


@functools.cache
def _leaf_commands() -> dict[str, argparse.ArgumentParser]:
    """`render`, `check`, ..., `tls rotate`, `tls show`: every parser that runs something."""
    leaves: dict[str, argparse.ArgumentParser] = {}
    for sub in _subparsers(build_parser()):
        if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            leaves[sub.prog.removeprefix("confpy ")] = sub
    return leaves


def _help_exit_codes(parser: argparse.ArgumentParser) -> dict[str, str]:
    """{code: meaning} from the `exit codes:` block that ends a command's --help."""
    text = parser.epilog or ""
    assert "exit codes:\n" in text, f"{parser.prog} --help lists no exit codes"
    codes: dict[str, str] = {}
    last = ""
    for line in text.split("exit codes:\n", 1)[1].splitlines():
        match = re.match(r"  (\d+|else)\s+(.*)", line)
        if match:
            last = match[1]
            codes[last] = match[2]
        elif line.startswith(" " * 7) and last:
            codes[last] += " " + line.strip()
    return codes


def _documented_exit_codes() -> dict[str, dict[str, str]]:
    """{command: {code: meaning}} from the table under `## Exit codes` in configuration.md."""
    section = CONFIGURATION.read_text().split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    header = [
        cell.strip().strip("`")
        for cell in section.split("\n| command |", 1)[1].split("\n", 1)[0].split("|")
    ]
    columns = [c if c != "otherwise" else "else" for c in header if c]
    table: dict[str, dict[str, str]] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        command, meanings = cells[0].strip("`"), cells[1:]
        table[command] = {
            code: text for code, text in zip(columns, meanings, strict=True) if text != "—"
        }
    return table


def test_every_command_lists_its_exit_codes_in_its_help() -> None:
    """Each command that runs something ends its --help with its own exit codes, usage (2) among them."""
    for name, parser in _leaf_commands().items():
        assert "2" in _help_exit_codes(parser), name


@pytest.mark.parametrize("command", sorted(_leaf_commands()))
def test_configuration_md_lists_the_same_exit_codes_as_help(command: str) -> None:
    """configuration.md's exit code table has the codes the command's --help lists, no more."""
    documented = _documented_exit_codes()
    assert command in documented, f"configuration.md's exit code table has no row for {command}"
    assert sorted(documented[command]) == sorted(_help_exit_codes(_leaf_commands()[command]))


@pytest.mark.parametrize("command", sorted(_leaf_commands()))
def test_configuration_md_gives_each_exit_code_the_meaning_help_gives(command: str) -> None:
    """A refused login, --wait-for-keys, SIGTERM, a lost race sit under the same code in both."""
    documented = _documented_exit_codes()[command]
    shown = _help_exit_codes(_leaf_commands()[command])
    for word in EXIT_KEYWORDS:
        in_help = {code for code, text in shown.items() if word in text}
        in_docs = {code for code, text in documented.items() if word in text}
        assert in_help == in_docs, (
            f"{command}: {word!r} is under {in_help} in --help, {in_docs} in the docs"
        )


def _raised_messages() -> list[tuple[int, str, str]]:
    """(exit code, leading literal text, file:line) of each `raise XError("...")` in confpy/."""
    from confpy import errors
    from confpy.cli import EXIT_CODE_BY_ERROR

    def code_of(cls: type[errors.ConfpyError]) -> int:
        return next(code for kind, code in EXIT_CODE_BY_ERROR if issubclass(cls, kind))

    classes = {
        name: code_of(cls)
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.ConfpyError)
    }
    found: list[tuple[int, str, str]] = []
    for path in sorted((ROOT / "confpy").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else None
            if name not in classes or not node.exc.args:
                continue
            first = node.exc.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                lead = first.value
            elif isinstance(first, ast.JoinedStr):
                lead = ""
                for part in first.values:
                    if not isinstance(part, ast.Constant):
                        break
                    lead += str(part.value)
            else:
                continue
            if len(lead.strip()) >= 12:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.append((classes[name], lead, where))
    return found


def _troubleshooting_messages() -> list[tuple[int, str]]:
    """(exit code of the section, message) for each `message` in the first column of a table
    under a `## Exit N` heading of troubleshooting.md."""
    out: list[tuple[int, str]] = []
    for section in re.split(r"\n## ", TROUBLESHOOTING.read_text())[1:]:
        heading = re.match(r"Exit (\d+)", section)
        if not heading:
            continue
        for line in section.splitlines():
            if line.startswith("| `"):
                first_cell = line.strip("|").split(" | ", 1)[0]
                out += [(int(heading[1]), m) for m in re.findall(r"`([^`]+)`", first_cell)]
    return out


def _messages_under_the_wrong_exit_code() -> tuple[int, list[str]]:
    """(how many listed messages the code raises, those listed under a code no raise has)."""
    raised = _raised_messages()
    matched, wrong = 0, []
    for section_code, message in _troubleshooting_messages():
        sites = [(code, where) for code, lead, where in raised if lead in message]
        if sites:
            matched += 1
            if section_code not in {code for code, _ in sites}:
                wrong.append(
                    f"{message!r} is under exit {section_code}; raised with "
                    + ", ".join(f"exit {code} at {where}" for code, where in sites)
                )
    return matched, wrong


def test_troubleshooting_messages_match_raised_errors() -> None:
    """The troubleshooting tables do name messages the code raises, so the next test bites."""
    matched, _ = _messages_under_the_wrong_exit_code()
    assert matched >= 20


def test_troubleshooting_lists_each_message_under_its_exit_code() -> None:
    """A message troubleshooting.md lists under `## Exit N` is raised by an error that exits N."""
    _, wrong = _messages_under_the_wrong_exit_code()
    assert not wrong, "\n".join(wrong)


def test_relative_paths_in_confpy_toml_are_documented_as_relative_to_confdir() -> None:
    """configuration.md and troubleshooting.md agree with settings.py: relative to CONFDIR."""
    for doc in (CONFIGURATION, TROUBLESHOOTING):
        text = " ".join(doc.read_text().split())
        assert re.search(
            r"relative paths? in `confpy\.toml` (is|are) relative to `CONFDIR`", text, re.I
        ), doc.name
