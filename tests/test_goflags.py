"""Go's flag package as confd parses its command line: pure unit tests, and a property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.config.confd import FLAGS
from confpy.golib.flag import Flag, FlagError, HelpRequested, parse, parse_int, usage

SMALL = (
    Flag("onetime", "bool", False, "run once"),
    Flag("backend", "string", "etcd", "backend"),
    Flag("interval", "int", 600, "seconds"),
    Flag("node", "list", (), "nodes"),
)


def values(*argv: str) -> dict[str, object]:
    return dict(parse(SMALL, argv).values)


def error(*argv: str) -> str:
    with pytest.raises(FlagError) as e:
        parse(SMALL, argv)
    return str(e.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["-backend", "env"],
        ["--backend", "env"],
        ["-backend=env"],
        ["--backend=env"],
        ["-backend", "etcd", "-backend", "env"],
    ],
)
def test_every_spelling_of_a_string_flag_sets_it(argv: list[str]) -> None:
    """-f v, --f v, -f=v, --f=v, and the last one wins."""
    assert values(*argv)["backend"] == "env"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-onetime"], True),
        (["--onetime"], True),
        (["-onetime=true"], True),
        (["-onetime=1"], True),
        (["-onetime=T"], True),
        (["-onetime=false"], False),
        (["-onetime=0"], False),
        (["-onetime=F"], False),
        ([], False),
    ],
)
def test_a_bool_flag_alone_or_with_a_value(argv: list[str], expected: bool) -> None:
    """Booleans take no next argument; `=value` is strconv.ParseBool."""
    assert values(*argv)["onetime"] is expected


def test_a_bool_flag_never_takes_the_next_argument() -> None:
    """`-onetime false` is -onetime, then a first non-flag argument that ends the flags."""
    parsed = parse(SMALL, ["-onetime", "false", "-backend", "env"])
    assert parsed.values["onetime"] is True
    assert parsed.values["backend"] == "etcd"
    assert parsed.args == ("false", "-backend", "env")


def test_a_repeated_list_flag_appends() -> None:
    """-node a -node b: both, in order."""
    assert values("-node", "a", "-node=b")["node"] == ("a", "b")


def test_a_value_that_looks_like_a_flag_is_still_the_value() -> None:
    """-backend -onetime: the backend is "-onetime", as in Go."""
    assert values("-backend", "-onetime")["backend"] == "-onetime"


def test_double_dash_ends_the_flags() -> None:
    """Everything after `--` is an argument."""
    parsed = parse(SMALL, ["-onetime", "--", "-backend", "env"])
    assert parsed.args == ("-backend", "env") and parsed.values["backend"] == "etcd"


def test_a_lone_dash_ends_the_flags() -> None:
    """`-` is an argument, not a flag."""
    assert parse(SMALL, ["-", "-onetime"]).args == ("-", "-onetime")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["--bogus=1"], "flag provided but not defined: -bogus"),
        (["-interval", "abc"], 'invalid value "abc" for flag -interval: parse error'),
        (
            ["-interval=99999999999999999999"],
            'invalid value "99999999999999999999" for flag -interval: value out of range',
        ),
        (["-onetime=maybe"], 'invalid boolean value "maybe" for -onetime: parse error'),
        (["-onetime="], 'invalid boolean value "" for -onetime: parse error'),
        (["-node"], "flag needs an argument: -node"),
        (["---x"], "bad flag syntax: ---x"),
        (["-=x"], "bad flag syntax: -=x"),
        (["--"], None),
    ],
)
def test_errors_carry_gos_own_words(argv: list[str], message: str | None) -> None:
    """The messages the real confd prints (checked against it), one line each."""
    if message is None:
        parse(SMALL, argv)
        return
    assert error(*argv) == message


@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"], ["-onetime", "-h"]])
def test_h_and_help_ask_for_the_usage(argv: list[str]) -> None:
    """-h/-help are not flags but a request for the usage (Go exits 0)."""
    with pytest.raises(HelpRequested):
        parse(SMALL, argv)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("10", 10),
        ("+10", 10),
        ("-10", -10),
        ("0x1f", 31),
        ("0X1F", 31),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("1_000", 1000),
        ("0x_1f", 31),
        ("0", 0),
        ("-9223372036854775808", -(1 << 63)),
        ("9223372036854775807", (1 << 63) - 1),
    ],
)
def test_integers_read_as_strconv_parseint_base_0(text: str, number: int) -> None:
    """Go's integer syntax: prefixes, a leading 0 for octal, underscores between digits."""
    assert parse_int(text) == number


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("", "parse error"),
        ("+", "parse error"),
        ("08", "parse error"),
        ("0x", "parse error"),
        ("1__0", "parse error"),
        ("_1", "parse error"),
        ("1_", "parse error"),
        ("1.5", "parse error"),
        (" 1", "parse error"),
        ("٣", "parse error"),
        ("9223372036854775808", "value out of range"),
        ("-9223372036854775809", "value out of range"),
        ("99999999999999999999x", "value out of range"),
    ],
)
def test_bad_integers_fail_with_gos_word(text: str, word: str) -> None:
    """Syntax errors are "parse error", overflow is "value out of range" (even before junk)."""
    with pytest.raises(ValueError, match=word):
        parse_int(text)


def test_usage_lists_every_confd_flag_as_go_prints_it() -> None:
    """PrintDefaults' layout: name, type word, usage on the next line, string defaults quoted."""
    text = usage(FLAGS, "confd")
    assert text.startswith("Usage of confd:\n  -app-id string\n")
    assert "  -backend string\n    \tbackend to use" in text
    assert '(default "/etc/confd")' in text and "(default 600)" in text
    assert "  -onetime\n    \trun once and exit\n" in text
    for flag in FLAGS:
        assert f"  -{flag.name}" in text


ARG = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["-", "--", "-h", "-onetime", "-backend", "-node", "-interval", "="]),
    st.builds(
        lambda dashes, name, eq, value: dashes + name + (("=" + value) if eq else ""),
        st.sampled_from(["-", "--", "---"]),
        st.sampled_from([f.name for f in FLAGS] + ["", "x", "=", "help"]),
        st.booleans(),
        st.text(max_size=8),
    ),
)


@given(st.lists(ARG, max_size=8))
def test_any_command_line_parses_or_fails_with_one_line(argv: list[str]) -> None:
    """Whatever the arguments: values for every flag, help, or one FlagError line."""
    try:
        parsed = parse(FLAGS, argv)
    except HelpRequested:
        return
    except FlagError as e:
        assert str(e) and "\n" not in str(e) and "\x1b" not in str(e)
        return
    assert set(parsed.values) == {f.name for f in FLAGS}
    assert len(parsed.args) <= len(argv)
