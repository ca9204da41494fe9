"""The maintained confd fork's functions in Jinja: the Go engine's results under the fork's
names, Jinja's own names left alone, one-line errors."""

from __future__ import annotations

import jinja2
import pytest

from confpy.errors import RenderError
from confpy.functions import static as funcs
from confpy.functions.fork_jinja import FORK_FUNCTIONS
from confpy.gotemplate.forkfuncs import SIGNATURES


def render(source: str, **context: object) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(funcs.STATIC_FUNCTIONS)
    return env.from_string(source).render(**context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ternary('a', 'b', true) }} {{ coalesce('', 0, 'c') }} {{ empty('') }}", "a c True"),
        ("{{ hasKey({'a': 1}, 'a') }} {{ keys({'b': 1, 'a': 2}) }}", "True ['a', 'b']"),
        ("{{ values({'b': 1, 'a': 2}) }} {{ append([1], 2) }}", "[2, 1] [1, 2]"),
        ("{{ pluck('a', {'a': 1}, {'b': 2}, {'a': 3}) }}", "[1, 3]"),
        ("{{ toJson({'b': 1, 'a': [1, '<', none]}) }}", '{"a":[1,"\\u003c",null],"b":1}'),
        ("{{ toPrettyJson([1]) }} {{ fromJson('[1, 2]') }}", "[\n  1\n] [1.0, 2.0]"),
        (
            "{{ nindent(2, 'a\nb') }}|{{ quote('a\"') }} {{ squote(\"it's\") }}",
            "\n  a\n  b|\"a\\\"\" 'it''s'",
        ),
        ("{{ regexMatch('^a', 'ab') }} {{ regexFind('[0-9]+', 'a12') }}", "True 12"),
        ("{{ regexReplaceAll('a(x*)b', '-axxb-', '${1}W') }}", "-xxW-"),
        (
            "{{ trimPrefix('foobar', 'foo') }} {{ repeat(2, 'ab') }} {{ nospace(' a b ') }}",
            "bar abab ab",
        ),
        (
            "{{ snakecase('HTTPServer') }} {{ camelcase('a_b') }} {{ kebabcase('aB') }}",
            "http_server aB a-b",
        ),
        ("{{ sha256sum('') }}", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("{{ lookupIfaceIPV4('lo') }}|{{ lookupIfaceIPV6('no-such-if0') }}", "127.0.0.1|"),
    ],
)
def test_fork_function_in_jinja_gives_the_go_engines_result(source: str, expected: str) -> None:
    """Each function renders what the fork (and confpy's Go engine) renders."""
    assert render(source) == expected


def test_jinjas_own_names_are_not_shadowed() -> None:
    """include, default, list, indent and dict keep Jinja's meaning; the rest are added."""
    assert set(SIGNATURES) - set(FORK_FUNCTIONS) == {"include", "default", "list", "indent", "dict"}
    assert render("{{ missing | default('d') }} {{ 'a\nb' | indent(2) }}") == "d a\n  b"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ternary(1, 2, 'yes') }}", "ternary: the condition is not a boolean"),
        ("{{ hasKey('x', 'a') }}", "hasKey: argument is not a map"),
        ("{{ append('x', 1) }}", "append: first argument is not a list"),
        ("{{ fromJson('{') }}", r"fromJson: not valid JSON \(1-character string\)"),
        ("{{ repeat('x', 'y') }}", "repeat: count is not an integer"),
        ("{{ regexMatch('(?=a)', 'a') }}", "regexMatch: error parsing regexp: invalid or unsupp"),
        ("{{ toJson(c) }}", "toJson: json: unsupported type: complex128"),
    ],
)
def test_fork_function_misuse_in_jinja_is_one_line(source: str, message: str) -> None:
    """Wrong types and values are one RenderError line naming the function."""
    with pytest.raises(RenderError, match=message):
        render(source, c=1j)
