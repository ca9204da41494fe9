"""`--data` files within `confpy.limits`: hostile fixtures are one line and exit 2, never a
traceback, a runaway or a blow-up.

Each hostile file runs through the real CLI in a child whose address space is capped
(`RLIMIT_AS`): a file that made confpy expand an alias bomb or read a huge file would die
of MemoryError (a traceback, exit 1) instead of passing. The property tests feed
arbitrary bytes and YAML-like token soup to the loader, and check the bounded YAML
composer against PyYAML's own wherever both accept the text.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confpy.errors import ConfigError
from confpy.golib.yaml_bounded import DataLimitError, compose_bounded
from confpy.limits import MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_NODES
from confpy.store.datafile import load_data
from tests.helpers import ConfTree

MEMORY = 1 << 30
"""Address space of the child: confpy needs well under 200 MB for any of these files."""
DEEP = 20_000
EXAMPLES = int(os.environ.get("CONFPY_HYPOTHESIS_EXAMPLES", "100"))


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def render_data(tmp_path: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """`confpy render --onetime --stdout --data DATA` in a memory-capped child.

    The timeout is a backstop that fails the test, not a timing assertion: a file that
    ran away would otherwise hang the suite.
    """
    tree = ConfTree(tmp_path / "tree")
    tree.simple("app", "x={{ getv('/x', '') }}\n", ["/"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFPY_")}
    env["CONFPY_ENDPOINTS"] = "http://127.0.0.1:9"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "confpy",
            "render",
            "--onetime",
            "--stdout",
            *("--confdir", str(tree.confdir)),
            *("--data", str(data)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        preexec_fn=_cap_memory,
    )


def assert_refused(result: subprocess.CompletedProcess[str], data: Path, *words: str) -> None:
    """Exit 2 and one line on stderr naming the file and what limit it passed."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"confpy: error: {data}"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


def billion_laughs(levels: int = 9, fan: int = 10) -> str:
    """The classic: each anchor is `fan` aliases of the one before, a kilobyte in all."""
    lines = ['l0: &l0 {v: "lol"}']
    for i in range(1, levels + 1):
        items = ", ".join(f"k{j}: *l{i - 1}" for j in range(fan))
        lines.append(f"l{i}: &l{i} {{{items}}}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    """A 1 KB billion-laughs file: one line naming the alias that went past the node limit."""
    data = tmp_path / "bomb.yaml"
    data.write_text(billion_laughs())
    assert len(data.read_bytes()) < 1024
    result = render_data(tmp_path, data)
    assert_refused(result, data, "alias *l", str(MAX_DATA_NODES))


def test_a_list_alias_bomb_is_refused_too(tmp_path: Path) -> None:
    """The list form, which --data refuses anyway, must not be expanded to find that out."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for p, c in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]")
    data = tmp_path / "lists.yaml"
    data.write_text("\n".join(lines) + "\n")
    assert_refused(render_data(tmp_path, data), data, str(MAX_DATA_NODES))


@pytest.mark.parametrize(
    "text",
    ["a: &a {b: *a}\n", "&a {x: [1, {y: *a}]}\n", "a: &a\n  b:\n    c: *a\n"],
    ids=["flow", "inside-a-list", "block"],
)
def test_a_self_referencing_anchor_is_refused(tmp_path: Path, text: str) -> None:
    """An alias inside the node it names would be an endless tree: one line, exit 2."""
    data = tmp_path / "self.yaml"
    data.write_text(text)
    assert_refused(render_data(tmp_path, data), data, "alias *a refers to a node that holds it")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("flow.yaml", "a: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n"),
        ("lists.yaml", "a: " + "[" * DEEP + "]" * DEEP + "\n"),
        ("block.yaml", "".join(f"{' ' * i}k:\n" for i in range(DEEP)) + " " * DEEP + "k: 1\n"),
        ("deep.json", '{"a": ' * DEEP + "1" + "}" * DEEP),
        ("lists.json", '{"a": ' + "[" * DEEP + "]" * DEEP + "}"),
    ],
)
def test_deep_nesting_is_refused_at_the_depth_limit(tmp_path: Path, name: str, text: str) -> None:
    """20,000 levels, YAML (flow or block) or JSON: one line saying so, not a RecursionError.

    (libyaml may stop a flow list first, with its own "exceeded maximum nesting depth".)"""
    data = tmp_path / name
    data.write_text(text)
    assert_refused(render_data(tmp_path, data), data, "nest")


def test_an_alias_that_expands_too_deep_is_refused(tmp_path: Path) -> None:
    """Depth counts aliases expanded: 60 levels nesting an alias to 60 more is 120."""
    inner = "{a: " * 60 + "1" + "}" * 60
    text = f"x: &x {inner}\ny: " + "{a: " * 60 + "*x" + "}" * 60 + "\n"
    data = tmp_path / "aliased.yaml"
    data.write_text(text)
    assert_refused(render_data(tmp_path, data), data, "alias *x", "levels deep")


def test_nesting_up_to_the_limit_still_loads(tmp_path: Path) -> None:
    """The limit refuses what is past it only: a key 99 mappings deep renders."""
    depth = MAX_DATA_DEPTH - 1
    data = tmp_path / "ok.json"
    data.write_text('{"a": ' * depth + '"v"' + "}" * depth)
    assert load_data(data) == {"/a" * depth: b"v"}


@pytest.mark.parametrize("kind", ["sparse", "dev-zero"])
def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path, kind: str) -> None:
    """A 4 GiB (sparse) file, or an endless one: refused after MAX_DATA_BYTES, not read whole."""
    if kind == "sparse":
        data = tmp_path / "huge.yaml"
        with data.open("wb") as f:
            f.truncate(4 << 30)
    else:
        data = Path("/dev/zero")
    assert_refused(render_data(tmp_path, data), data, f"larger than the limit of {MAX_DATA_BYTES}")


# -- properties --------------------------------------------------------------------------------

TOKENS = [
    *("{", "}", "[", "]", ", ", ": ", "\n", "  ", "- ", "? ", "#", "---\n", "...\n", "'", '"'),
    *("&a ", "&b ", "*a", "*b", "*c", "!!binary ", "!!str ", "!x ", "<<: ", "~", "null"),
    *("key", "k2", "1.10", "yes", "aGVsbG8=", "\\", "|\n", ">\n", "\t", "\x00", "é", "\x1b"),
]
soup = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)
nested = st.tuples(st.integers(1, 3000), st.sampled_from(["{a: ", "[", '{"a": ', "- "])).map(
    lambda t: t[1] * t[0]
)


def _load(text: bytes, suffix: str) -> dict[str, bytes] | ConfigError:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        path.write_bytes(text)
        try:
            return load_data(path)
        except ConfigError as e:
            return e


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(st.binary(max_size=300), soup.map(str.encode), nested.map(str.encode)),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_any_bytes_load_or_give_one_line_naming_the_file(text: bytes, suffix: str) -> None:
    """Whatever the bytes: a dict of keys, or a ConfigError of one line naming the file."""
    outcome = _load(text, suffix)
    if isinstance(outcome, ConfigError):
        message = str(outcome)
        assert "\n" not in message and "data" + suffix in message, message
        assert message.count("--data:") == 1, message
    else:
        assert all(k.startswith("/") and isinstance(v, bytes) for k, v in outcome.items())


def _same(a: yaml.Node, b: yaml.Node, seen: set[tuple[int, int]]) -> bool:
    """Equal trees (tag, value, line) whatever nodes aliases share."""
    if (id(a), id(b)) in seen:
        return True
    seen.add((id(a), id(b)))
    if type(a) is not type(b) or a.tag != b.tag or a.start_mark.line != b.start_mark.line:
        return False
    if isinstance(a, yaml.ScalarNode):
        return bool(a.value == b.value)
    if isinstance(a, yaml.MappingNode):
        pairs = list(zip(a.value, b.value, strict=False))
        return len(a.value) == len(b.value) and all(
            _same(ka, kb, seen) and _same(va, vb, seen) for (ka, va), (kb, vb) in pairs
        )
    items = list(zip(a.value, b.value, strict=False))
    return len(a.value) == len(b.value) and all(_same(x, y, seen) for x, y in items)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=soup)
def test_the_bounded_composer_agrees_with_pyyaml(text: str) -> None:
    """Where PyYAML composes a text without a cycle, the bounded composer gives the same tree;
    where PyYAML refuses it, so does the bounded composer. Both read the same parser's
    events (libyaml's where PyYAML has it), so this compares composing alone."""
    try:
        theirs = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        theirs = None
        refused = True
    else:
        refused = False
    try:
        ours = compose_bounded(text)
    except DataLimitError as e:
        assert "refers to a node that holds it" in e.message, e.message  # PyYAML made a cycle
        return
    except yaml.YAMLError:
        assert refused, text
        return
    assert not refused, text
    assert (ours is None and theirs is None) or _same(ours, theirs, set()), text
