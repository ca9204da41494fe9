"""Secrets against hostile spellings: a password in a node URL is never echoed, whatever
characters it holds.

A password typed unencoded into a URL may hold `/`, `?` or `#` (URL syntax would need
`%2F`...). The URL is then not valid, and the message that rejects it must still hide
everything before its last `@`.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.redact import redact_url
from tests.conftest import Confpy

PASSWORD = "s3cr3tPW"


@pytest.mark.parametrize("sep", ["/", "?", "#", "/x?y#"])
def test_redact_url_hides_a_password_holding_url_delimiters(sep: str) -> None:
    """`http://u:s3cr3t/PW@host` shows no part of the password."""
    shown = redact_url(f"http://u:{PASSWORD[:4]}{sep}{PASSWORD[4:]}@127.0.0.1:2379")
    assert PASSWORD[:4] not in shown and PASSWORD[4:] not in shown
    assert shown.endswith("@127.0.0.1:2379")


@given(
    st.text(st.characters(blacklist_characters="@", codec="utf-8"), min_size=1),
    st.sampled_from(["http://", "https://", "//", ""]),
)
def test_redact_url_shows_nothing_before_the_last_at(secret: str, scheme: str) -> None:
    """Whatever precedes the last `@` (after the scheme) is never shown as it was."""
    shown = redact_url(f"{scheme}u:{secret}@host:2379")
    assert f"u:{secret}@" not in shown or secret == "***"


def test_confd_node_with_a_slash_in_its_password_is_not_echoed(
    confpy_offline: Confpy,
) -> None:
    """`confpy confd -node http://u:pa/ss@h` is refused without the password."""
    result = confpy_offline.run(
        "confd", "-onetime", "-backend", "etcdv3", "-confdir", "/nonexistent",
        "-node", f"http://u:{PASSWORD[:4]}/{PASSWORD[4:]}@127.0.0.1:1",
    )  # fmt: skip
    assert result.returncode == 1
    assert PASSWORD[:4] not in result.stderr + result.stdout


def test_render_endpoint_with_a_slash_in_its_password_is_not_echoed(
    confpy_offline: Confpy,
) -> None:
    """`confpy render --endpoints http://u:pa/ss@h:1` is refused without the password."""
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", "/nonexistent",
        "--endpoints", f"http://u:{PASSWORD[:4]}/{PASSWORD[4:]}@127.0.0.1:1",
    )  # fmt: skip
    assert result.returncode != 0
    assert PASSWORD[:4] not in result.stderr + result.stdout
