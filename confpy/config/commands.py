"""Put the paths confpy chose (`{{ src }}`, `{{ dest }}`) into an operator's command so
that no byte of them is ever read as shell syntax or as an option.

With `each`, a file name is an etcd key name: data from etcd, as hostile as a value. So a
path never enters the text a shell parses. Every command runs with `CONFPY_SRC` and
`CONFPY_DEST` in its environment, and in a shell string a placeholder becomes a quoted
reference to that variable, quoted for where it stands: `"${CONFPY_SRC}"` in a bare word,
`${CONFPY_SRC}` inside double quotes, `'"${CONFPY_SRC}"'` inside single quotes. The shell
expands a variable once and never parses what it holds, so the command sees the exact
path whatever its bytes (`;`, `$(...)`, quotes, spaces), and a mistaken guess of the
quoting could at worst split the path into words, never run any of it. A placeholder
where even that is not sure (after a backslash, in backquotes, `${...}`, `$'...'`,
arithmetic, a comment, after a here-document) is refused with one line saying why.

In an array command the path is put into its element as it is: no shell reads it, and
the paths are absolute, so an element never starts with `-` because of a path. An
array that runs a shell (`["sh", "-c", SCRIPT]`, also behind `env`, `sudo`...) gets the
string treatment for its script.

What no quoting can prevent is a command that parses its arguments as a shell again
(`eval`, `ssh host cmd`, a nested `sh -c "$CONFPY_SRC"`): docs/configuration.md says so.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from confpy.errors import ConfigError

PLACEHOLDER = re.compile(r"\{\{\s*\.?(src|dest)\s*\}\}")
"""`{{ src }}`, `{{.src}}`, `{{ dest }}`, `{{.dest}}`: the only substitutions in a command."""

ENV = {"src": "CONFPY_SRC", "dest": "CONFPY_DEST"}
"""The environment variable that holds each path for the command."""

SHELLS = frozenset({"sh", "ash", "dash", "bash", "ksh", "mksh", "zsh"})
"""Programs whose `-c` operand is a shell script (for array commands)."""


@dataclass(frozen=True)
class Prepared:
    """A command ready to run: what to execute, the paths' variables, and its printable form."""

    args: str | tuple[str, ...]
    """A script for `/bin/sh -c`, or an argv run without a shell."""
    env: Mapping[str, str]
    """`CONFPY_SRC` / `CONFPY_DEST` for the paths given: added to confpy's environment."""
    shown: str
    """The command with the paths filled in and quoted, for logs, messages and identity."""


def prepare(command: str | tuple[str, ...], *, field: str, **paths: str) -> Prepared:
    """`command` with `{{ src }}`/`{{ dest }}` bound to `paths`, ready for `run_command`.

    ConfigError naming `field` for a placeholder the shell could misread; ValueError for a
    path that is not absolute (confpy only ever passes absolute ones).
    """
    for name, path in paths.items():
        if name not in ENV:
            raise ValueError(f"no placeholder {{{{ {name} }}}}")
        if not path.startswith("/"):
            raise ValueError(f"{name} must be an absolute path, got {path!r}")
    env = {ENV[name]: path for name, path in paths.items()}
    if isinstance(command, str):
        return Prepared(_script(command, paths, field), env, _shown(command, paths))
    script_at = script_index(command)
    args = tuple(
        _script(arg, paths, field) if i == script_at else _fill(arg, paths)
        for i, arg in enumerate(command)
    )
    shown = " ".join(shlex.quote(_fill(arg, paths)) for arg in command)
    return Prepared(args, env, shown)


def refusal(command: str | tuple[str, ...]) -> str | None:
    """Why `prepare` would refuse `command` whatever the paths, or None: for load time."""
    try:
        prepare(command, field="", **{name: "/" for name in ENV})
    except ConfigError as e:
        return e.reason
    return None


def script_index(argv: tuple[str, ...]) -> int | None:
    """Where an array command holds a shell script: the operand of `SHELL -c`, or None.

    The shell may come behind wrappers (`env`, `sudo`, `timeout 5`): the first element
    named like a shell counts, and its script is the first operand after an option with `c`
    (options that take an argument, `-o pipefail`, are stepped over).
    """
    start = next((i for i, arg in enumerate(argv) if os.path.basename(arg) in SHELLS), None)
    if start is None:
        return None
    saw_c = options_over = skip = False
    for i in range(start + 1, len(argv)):
        arg = argv[i]
        if skip:
            skip = False
        elif options_over or arg == "-" or not arg.startswith(("-", "+")):
            return i if saw_c else None
        elif arg == "--":
            options_over = True
        elif arg in _OPTION_ARGUMENT:
            skip = True
        elif arg.startswith("-") and not arg.startswith("--"):
            saw_c = saw_c or "c" in arg
    return None


_OPTION_ARGUMENT = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
"""Shell options whose next element is their argument, not the script."""


def _fill(text: str, paths: Mapping[str, str]) -> str:
    """The placeholders of `text` replaced by the bare paths (for an argv element)."""
    return PLACEHOLDER.sub(lambda m: paths.get(m.group(1), m.group(0)), text)


def _shown(script: str, paths: Mapping[str, str]) -> str:
    """The script as a reader should see it: each path shell-quoted in its place."""
    return PLACEHOLDER.sub(
        lambda m: shlex.quote(paths[m.group(1)]) if m.group(1) in paths else m.group(0), script
    )


_REFERENCE = {
    "word": '"${{{}}}"',
    "cmdsub": '"${{{}}}"',
    "double": "${{{}}}",
    "single": "'\"${{{}}}\"'",
}
"""How a placeholder is written in each quoting context: a quoted variable reference."""


def _script(script: str, paths: Mapping[str, str], field: str) -> str:
    """`script` with each placeholder that has a path replaced by its variable reference."""
    placed = _contexts(script)
    out: list[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(script):
        name = m.group(1)
        out.append(script[pos : m.start()])
        pos = m.end()
        if name not in paths:
            out.append(m.group(0))
            continue
        context = placed.get(m.start(), "right after a $")
        if context not in _REFERENCE:
            raise ConfigError(
                f"{field}: " * bool(field) + f"{{{{ {name} }}}} {context}: the shell could "
                f'misread the path there; write it as a plain word, or use "${ENV[name]}"',
                field=field,
            )
        out.append(_REFERENCE[context].format(ENV[name]))
    out.append(script[pos:])
    return "".join(out)


_WORD_START = frozenset(" \t\n;&|()<>")

_PLACED = {
    "backtick": "inside backquotes",
    "ansi": "inside $'...'",
    "param": "inside ${...}",
    "arith": "inside arithmetic",
    "comment": "inside a comment",
}


@dataclass
class _Frame:
    """One open quoting construct: its kind, and the parentheses opened inside it."""

    kind: str
    depth: int = 0


def _contexts(script: str) -> dict[int, str]:
    """The quoting context at each placeholder's start: a key of `_REFERENCE`, or where it
    sits that is refused (the text completes "{{ src }} ...").

    A scan of POSIX sh quoting kept on a stack: bare words, `\\`, '...', "...", `$(...)`
    nested to any depth; the constructs it does not follow precisely refuse placeholders
    inside them (backquotes, `${...}`, `$'...'`, arithmetic, comments) or after them
    (a here-document, `case` inside `$(...)`). A placeholder it steps over (`${{ src }}`)
    is missing from the result: the caller refuses it too.
    """
    starts = {m.start(): m.end() for m in PLACEHOLDER.finditer(script)}
    found: dict[int, str] = {}
    stack = [_Frame("word")]
    poisoned: str | None = None
    i, n = 0, len(script)
    while i < n:
        kind = stack[-1].kind
        if i in starts:
            found[i] = poisoned or _PLACED.get(kind, kind)
            i = starts[i]
            continue
        c = script[i]
        if kind in ("single", "comment"):
            if c == ("'" if kind == "single" else "\n"):
                stack.pop()
            i += 1
        elif c == "\\":
            if i + 1 in starts:
                found[i + 1] = poisoned or "after a backslash"
                i = starts[i + 1]
            else:
                i += 2
        elif kind in ("backtick", "ansi"):
            if c == ("`" if kind == "backtick" else "'"):
                stack.pop()
            i += 1
        else:
            step, poison = _step(script, i, stack)
            poisoned = poisoned or poison
            i += step
    return found


def _step(script: str, i: int, stack: list[_Frame]) -> tuple[int, str | None]:
    """One token in a bare word, "...", `$(...)`, `${...}` or arithmetic: how many
    characters it takes, and why later placeholders are refused if it makes them unsure."""
    frame = stack[-1]
    c, two = script[i], script[i : i + 2]
    opened = _opening(script[i : i + 3], frame.kind)
    if opened is not None:
        kind, length = opened
        if kind == "double" and frame.kind == "double":
            stack.pop()
        else:
            stack.append(_Frame(kind))
        return length, None
    if frame.kind == "double":
        return 1, None
    if frame.kind == "param" and c == "}":
        stack.pop()
    elif frame.kind == "arith" and two == "))" and frame.depth == 0:
        stack.pop()
        return 2, None
    elif c == "(":
        frame.depth += 1
    elif c == ")":
        if frame.depth > 0:
            frame.depth -= 1
        elif frame.kind == "cmdsub":
            stack.pop()
    elif two == "<<":
        return 2, "after a here-document (<<)"
    elif i == 0 or script[i - 1] in _WORD_START:
        if c == "#" and frame.kind in ("word", "cmdsub"):
            stack.append(_Frame("comment"))
        elif frame.kind == "cmdsub" and re.match(r"case\b", script[i : i + 5]):
            return 4, "after a case inside $(...)"
    return 1, None


def _opening(text: str, kind: str) -> tuple[str, int] | None:
    """The construct `text` opens in context `kind`, and its length; None for no construct.

    Inside double quotes only `"`, backquotes and `$` constructs count.
    """
    if text.startswith("$(("):
        return "arith", 3
    for token, opens in (('"', "double"), ("`", "backtick"), ("$(", "cmdsub"), ("${", "param")):
        if text.startswith(token):
            return opens, len(token)
    if kind == "double":
        return None
    for token, opens in (("$'", "ansi"), ("'", "single")):
        if text.startswith(token):
            return opens, len(token)
    if text.startswith("((") and kind in ("word", "cmdsub"):
        return "arith", 2  # bash's (( )) evaluates what it holds
    return None
