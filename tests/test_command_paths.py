"""`command_paths.prepare`: whatever bytes a path holds and however the operator quoted its
placeholder, the shell (dash and bash) hands the command the exact path and runs nothing
else; an array command gets it as one whole argument."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confpy.config.commands import prepare, refusal, script_index

SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]

paths = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30
).map(lambda t: "/" + t)
"""Any absolute path a file name from etcd could make (NUL aside: no path holds one)."""

PLACED = [
    ("{P}", "{p}"),
    ('"{P}"', "{p}"),
    ("'{P}'", "{p}"),
    ("x{P}y", "x{p}y"),
    ("'a'{P}\"b\"", "a{p}b"),
    ('"a $HOME_UNSET {P} b"', "a  {p} b"),
    ("'it'\\''s {P}'", "it's {p}"),
    ('"$(printf %s {P})"', "{p-}"),
    ("\"$(printf %s '{P}')\"", "{p-}"),
    ('"$(printf %s "{P}")"', "{p-}"),
    ("$(printf %s {P})", None),  # unquoted $( ): the shell splits its output, as for any value
]
"""(how the placeholder is written in an argument, what the argument must be): `{p-}` is
the path less trailing newlines, which `$(...)` strips from any output."""

BEFORE = [
    "",
    "x=$(echo 'a)b' \"c)d\"); ",
    "case a in (a) : ;; esac; ",
    "v=$((1 + (2 * 3))); ",
    ": `echo hi`; ",
    ": ${HOME:-x}; ",
    "# a comment with ' and \"\n",
    ': "$(echo "$(echo \')\')")"; ',
    "echo \\' >/dev/null; ",
]
"""Shell text before the command, which the scan must follow without losing its place."""


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=150, deadline=None)
@given(
    path=paths,
    placed=st.sampled_from(PLACED),
    before=st.sampled_from(BEFORE),
)
def test_the_shell_gives_the_command_the_exact_path(
    shell: str, path: str, placed: tuple[str, str | None], before: str
) -> None:
    """The argument the shell builds is the path, byte for byte, in every quoting context."""
    written, want = placed
    script = before + "printf '%s\\0' " + written.replace("{P}", "{{ src }}")
    prepared = prepare(script, field="check_cmd", src=path)
    assert isinstance(prepared.args, str)
    env = {"PATH": "/usr/bin:/bin", **prepared.env}
    result = subprocess.run(
        [shell, "-c", prepared.args], env=env, capture_output=True, timeout=10, check=False
    )
    assert result.returncode == 0, result.stderr
    if want is not None:
        want = want.replace("{p-}", path.rstrip("\n")).replace("{p}", path)
        assert result.stdout == (want + "\0").encode()


@settings(max_examples=100, deadline=None)
@given(path=paths)
def test_an_array_command_gets_the_path_as_one_argument(path: str) -> None:
    """Without a shell each element is one argument: the path is in it unchanged."""
    prepared = prepare(["printf", "%s\\0", "{{ dest }}", "-{{dest}}"], field="c", dest=path)
    result = subprocess.run(list(prepared.args), capture_output=True, timeout=10, check=False)
    assert result.stdout == f"{path}\0-{path}\0".encode()


@settings(max_examples=100, deadline=None)
@given(path=paths)
def test_an_array_that_runs_sh_c_gets_its_script_treated_as_a_shell_string(path: str) -> None:
    """`["sh", "-c", SCRIPT]` (also behind `env`): the script is quoted like a string command."""
    prepared = prepare(
        ["env", "sh", "-e", "-c", "printf '%s\\0' {{ src }}", "name", "{{ src }}"],
        field="c",
        src=path,
    )
    result = subprocess.run(
        list(prepared.args), env=dict(prepared.env), capture_output=True, timeout=10, check=False
    )
    assert result.stdout == f"{path}\0".encode()
    assert prepared.args[-1] == path


@pytest.mark.parametrize(
    ("argv", "index"),
    [
        (("sh", "-c", "s"), 2),
        (("/bin/bash", "-euc", "s", "n", "a"), 2),
        (("bash", "-o", "pipefail", "-c", "s"), 4),
        (("sudo", "-u", "x", "sh", "-c", "s"), 5),
        (("sh", "script.sh", "-c"), None),
        (("cat", "-c", "s"), None),
        (("sh", "--", "s"), None),
    ],
)
def test_the_script_of_a_shell_in_an_array_is_found(argv: tuple[str, ...], index: int) -> None:
    """Only the operand of a shell's `-c` is a script: other arguments are plain values."""
    assert script_index(argv) == index


@pytest.mark.parametrize(
    "command",
    [
        "nginx -t -c {{ src }}",
        "test -s '{{.src}}' && cp \"{{ dest }}\" /backup/",
        "x=$(dirname {{ dest }}); echo $x",
        "echo {{ name }} {{ other }}",
    ],
)
def test_ordinary_commands_are_accepted(command: str) -> None:
    """The forms in confd's and confpy's documentation all pass the load-time check."""
    assert refusal(command) is None
