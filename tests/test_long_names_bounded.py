"""A name from etcd of any length is one short line in a message: `shorten` cuts it to
NAME_LIMIT characters plus a fixed tail (its length and checksum), and every error line is
cut at MESSAGE_LIMIT the same way, escaped, so what etcd holds never floods the log."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from confpy import log

TAIL = len("…(10000000000 characters, sha256:0123456789abcdef)")
"""The longest tail a cut name gets (names of up to eleven digits of length)."""

names = st.text(st.characters(), max_size=3000) | st.builds(
    lambda c, n: c * n, st.characters(), st.integers(0, 300_000)
)


@given(names)
def test_any_name_through_the_error_line_is_one_bounded_line(name: str) -> None:
    """An error line naming any key is one line of at most the bound plus the tail."""
    line = log.error_line(f"key {log.shorten(name)} refused")
    assert len(line.splitlines()) == 1
    assert len(line) <= len("confpy: error: key  refused") + log.NAME_LIMIT + TAIL


@given(names)
def test_any_message_through_the_error_line_is_one_bounded_line(message: str) -> None:
    """The whole message, name unshortened, still stays within MESSAGE_LIMIT and the tail."""
    line = log.error_line(message)
    assert len(line.splitlines()) == 1
    assert len(line) <= len("confpy: error: ") + log.MESSAGE_LIMIT + TAIL


def test_a_cut_name_keeps_its_head_length_and_checksum() -> None:
    """Two long names are told apart: the head, the length and the sha256 are shown."""
    name = "/svc/" + "a" * 200_000
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    assert log.shorten(name) == f"{name[:100]}…({len(name)} characters, sha256:{digest})"


def test_a_short_name_is_shown_whole_and_escaped() -> None:
    """Under the bound, a name is only escaped, not cut."""
    assert log.shorten("/svc/a\x1bb") == "/svc/a\\x1bb"


def test_a_huge_log_field_is_one_bounded_json_line() -> None:
    """A JSON log event naming a 200,000-character key is one line within MESSAGE_LIMIT."""
    import io
    import json

    stream = io.StringIO()
    log.configure("info", "json", stream)
    log.get_logger("confpy.test").warning("refused", key="/svc/" + "a\n" * 100_000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) < log.MESSAGE_LIMIT + 500
    assert "characters, sha256:" in json.loads(lines[0])["key"]
