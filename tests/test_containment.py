"""One containment boundary per resource: whatever a template, value or function raises
fails that resource alone, with one line naming template and line; nothing else stops."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confpy import limits
from confpy.errors import RenderError
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, read
from tests.helpers import ConfTree, render_resource

DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
DEEP_ARRAY = "[" * 5000 + "]" * 5000

# (template file name, source, values): each must fail with a RenderError, nothing else.
HOSTILE = {
    "json of 5,000 nested objects": (
        "t.j2",
        '{% set c = json(getv("/c")) %}{{ c }}',
        {"/c": DEEP_OBJECT},
    ),
    "jsonArray of 5,000 nested arrays": (
        "t.j2",
        '{% set c = jsonArray(getv("/c")) %}{{ c }}',
        {"/c": DEEP_ARRAY},
    ),
    "Go json of 5,000 nested objects": (
        "t.tmpl",
        '{{$c := json (getv "/c")}}{{$c}}',
        {"/c": DEEP_OBJECT},
    ),
    "a macro calling itself": ("t.j2", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(0) }}", {}),
    "a recursive loop without end": (
        "t.j2",
        "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        {},
    ),
    "cycler() with nothing to cycle": ("t.j2", "{% set c = cycler() %}{{ c.next() }}", {}),
    "10 ** a value": ("t.j2", '{{ 10 ** atoi(getv("/n")) }}', {"/n": "5000"}),
    "a string repeated a value's times": (
        "t.j2",
        '{{ "x" * atoi(getv("/n")) }}',
        {"/n": "1000000000000"},
    ),
    "seq to a value": ("t.j2", '{{ seq(1, getv("/n")) | length }}', {"/n": "1000000000000"}),
    "* beyond any integer": (
        "t.j2",
        '{{ (getv("/n") | int) * (getv("/n") | int) }}',
        {"/n": "9" * 4000},
    ),
    "an integer power of a value beyond the bound": (
        "t.j2",
        '{{ atoi(getv("/n")) ** 300 }}',
        {"/n": "9223372036854775807"},
    ),
    "a lone surrogate in the output": ("t.j2", '{{ "\\ud800" }}', {}),
    "a value indexing a dict": ("t.j2", '{{ {}[getv("/k")] }}', {"/k": "x"}),
    "an integer too long to print": ("t.j2", "{{ 10 ** 4400 }}", {}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_anything_a_render_raises_becomes_one_render_error_naming_template_and_line(
    tmp_path: Path, case: str
) -> None:
    """RecursionError, RuntimeError, MemoryError-sized inputs, encoding errors: one RenderError."""
    name, source, values = HOSTILE[case]
    with pytest.raises(RenderError) as e:
        render_resource(tmp_path, name, "\n" + source, values)
    message = str(e.value)
    assert "\n" not in message and len(message) < 700
    # Output that cannot be encoded is found after rendering: the output line is named.
    assert (
        f"templates/{name}:2: " in message or f"templates/{name}: rendered output line 2" in message
    )


def test_json_nesting_is_bounded_explicitly(tmp_path: Path) -> None:
    """The limit is confpy's, stated in the message, not Python's recursion limit."""
    deep = "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1)
    with pytest.raises(RenderError, match=f"nested more than {limits.MAX_JSON_DEPTH} levels"):
        render_resource(tmp_path, "t.j2", '{{ jsonArray(getv("/c")) }}', {"/c": deep})
    ok = "[" * limits.MAX_JSON_DEPTH + "]" * limits.MAX_JSON_DEPTH
    assert (
        render_resource(tmp_path, "t.j2", '{{ jsonArray(getv("/c")) | length }}', {"/c": ok})
        == b"1"
    )


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    """A value holding `[[[[` in a string is as flat as it looks."""
    value = json.dumps({"s": "[" * 1000 + '\\"{' * 500})
    assert (
        render_resource(tmp_path, "t.j2", '{{ json(getv("/c")).s | length }}', {"/c": value})
        == b"2500"
    )


def test_json_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_JSON_CHARS", 100)
    with pytest.raises(RenderError, match="more than the limit of 100"):
        render_resource(
            tmp_path, "t.j2", '{{ jsonArray(getv("/c")) }}', {"/c": json.dumps(list(range(50)))}
        )


def test_output_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_OUTPUT_CHARS", 1000)
    with pytest.raises(RenderError, match="exceeds the limit of 1000 characters"):
        render_resource(
            tmp_path,
            "t.j2",
            "{% for i in range(100) %}{{ getv('/v') }}{% endfor %}",
            {"/v": "x" * 20},
        )


def test_template_calls_within_the_limit_still_render(tmp_path: Path) -> None:
    """The recursion bound leaves room for real recursive macros (a tree a few levels deep)."""
    source = (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro %}"
        f"{{{{ f({limits.MAX_CALL_DEPTH - 2}) }}}}"
    )
    out = render_resource(tmp_path, "t.j2", source, {})
    assert out.endswith(str(limits.MAX_CALL_DEPTH - 2).encode())


def test_lone_surrogate_from_json_is_written_as_the_replacement_character(tmp_path: Path) -> None:
    """Go decodes `\\ud800` to U+FFFD; so does confpy, so writing the file never fails."""
    out = render_resource(tmp_path, "t.tmpl", '{{(json "{\\"a\\":\\"\\\\ud800\\"}").a}}', {})
    assert out == "\ufffd".encode()


# -- against real etcd and real processes ------------------------------------------------------


def _hostile_tree(tree: ConfTree) -> tuple[Path, Path, Path]:
    bad = tree.simple("bad", 'cfg\n{% set c = json(getv("/app/cfg")) %}{{ c.a }}\n', ["/app/cfg"])
    first = tree.simple("first", "{{ getv('/other/a') }}", ["/other/a"])
    last = tree.simple("zlast", "{{ getv('/other/b') }}", ["/other/b"])
    return bad, first, last


@pytest.mark.etcd
def test_onetime_renders_every_other_resource_and_exits_1(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A value that blows up its template fails that resource; the others are written."""
    bad, first, last = _hostile_tree(tree)
    bad.write_text("old")
    store.put("/app/cfg", DEEP_OBJECT.encode())
    store.put("/other/a", b"A")
    store.put("/other/b", b"B")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert errors == [
        f"confpy: error: bad: {tree.confdir}/templates/bad.j2:2: "
        f"json: value is nested more than {limits.MAX_JSON_DEPTH} levels deep"
    ]
    assert (first.read_text(), last.read_text(), bad.read_text()) == ("A", "B", "old")


@pytest.mark.etcd
def test_watch_daemon_lives_on_and_retries_a_resource_a_value_breaks(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    """The daemon survives, keeps the other files in sync, reports the failure, recovers."""
    bad, first, _ = _hostile_tree(tree)
    store.put("/app/cfg", b'{"a": "ok"}')
    store.put("/other/a", b"A1")
    store.put("/other/b", b"B")
    port = free_port()
    w = Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
    watchers.append(w)
    wait_for(lambda: read(bad) == "cfg\nok\n" and read(first) == "A1", what="first render")

    store.put("/app/cfg", DEEP_OBJECT.encode())
    health = wait_for(
        lambda: (h := _health(port)) and "bad" in h.get("failing", {}) and h,
        what="bad resource reported failing",
    )
    assert isinstance(health, dict)
    assert health["failing"]["bad"].endswith(
        f"bad.j2:2: json: value is nested more than {limits.MAX_JSON_DEPTH} levels deep"
    )
    store.put("/other/a", b"A2")
    wait_for(lambda: read(first) == "A2", what="the other resource still follows etcd")
    assert w.proc.poll() is None
    assert read(bad) == "cfg\nok\n"

    store.put("/app/cfg", b'{"a": "fixed"}')
    wait_for(lambda: read(bad) == "cfg\nfixed\n", what="the broken resource recovers")
    assert w.stop() == 0
    assert not any("Traceback" in line for line in w.stderr)


def _health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as e:
        return json.loads(e.read())  # type: ignore[no-any-return]
    except OSError:
        return {}


def test_range_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(
        RenderError, match=f"range: .* more than the limit of {limits.MAX_SEQUENCE}"
    ):
        render_resource(
            tmp_path,
            "t.j2",
            "{% for i in range(atoi(getv('/n'))) %}{% endfor %}",
            {"/n": "1000000000000"},
        )


def test_a_validator_recursing_on_deep_output_fails_that_resource(tmp_path: Path) -> None:
    """`validate = "yaml"` on output nested thousands deep is a render failure, not a crash."""
    from confpy.apply.runner import load_config, plan_change_set, render_all
    from confpy.store.snapshot import Snapshot

    tree = ConfTree(tmp_path)
    tree.simple("deep", "{{ getv('/v') }}", ["/v"], extra='validate = "yaml"\n')
    tree.simple("fine", "ok", ["/v"])
    config = load_config(tree.confdir)
    snapshot = Snapshot(1, {"/v": b"[" * 5000 + b"]" * 5000})
    rendered, failures = render_all(
        config, plan_change_set(config, config.resources, snapshot), snapshot
    )
    assert rendered == {"fine": b"ok"}
    assert str(failures["deep"]).endswith(
        "deep.j2: RecursionError while checking the rendered output"
    )
