"""Secrets against hostile spellings: a password in a node URL is never echoed, whatever
characters it holds.

A password typed unencoded into a URL may hold `/`, `?` or `#` (URL syntax would need
`%2F`...). The URL is then not valid, and the message that rejects it must still hide
everything before its last `@`.
"""

from __future__ import annotations

import json
from pathlib import Path

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


# -- a checker that quotes the token it refuses -------------------------------------------

SHORT = "hunter2-Pa55"
"""A password of 12 characters: shorter than redact.WINDOW, as most passwords are."""


def scrubbed(output: str, *, private: bool, template: str = "pw={{ getv '/a/pw' }}") -> str:
    from confpy.redact import FileText, OutputScrubber

    new = f"pw={SHORT}\nup={SHORT.upper()}\n"
    return OutputScrubber([FileText("/etc/x.conf", "", new, private)], {"/a/pw": SHORT}, [template]
    ).scrub(output)  # fmt: skip


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
def test_a_whole_short_value_a_checker_quotes_is_hidden(private: bool) -> None:
    """`unexpected token "hunter2-Pa55"`: a checker quoting the value it refuses showed
    any value under 16 characters (the window of rule 2), a private file's too."""
    shown = scrubbed(f'error: unexpected token "{SHORT}" at line 1', private=private)
    assert SHORT not in shown
    assert shown.startswith("<output withheld" if private else "error: unexpected token")


def test_a_word_of_a_private_file_a_checker_quotes_is_hidden() -> None:
    """A private file's word that no template holds (`HUNTER2-PA55`, the value upper-cased)
    is hidden where a checker quotes it alone."""
    shown = scrubbed(f"bad value '{SHORT.upper()}'", private=True)
    assert SHORT.upper() not in shown


def test_a_template_word_in_a_public_files_output_stays_readable() -> None:
    """What the template says (`pw`, the directive) is configuration and stays shown."""
    shown = scrubbed("unknown directive 'pw' in line 1", private=False)
    assert shown == "unknown directive 'pw' in line 1"


def test_a_private_files_command_output_is_withheld_whole() -> None:
    """Output of a command that reads a private file: its length and checksum only, and
    the hint to run the command by hand, even what only the template says."""
    from confpy.redact import checksum

    output = "unknown directive 'pw' in line 1"
    shown = scrubbed(output, private=True)
    assert "directive" not in shown
    assert f"{len(output)} characters, {checksum(output)}" in shown
    assert "run the command by hand" in shown


def test_a_private_files_check_output_never_shows_a_short_password(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """End to end (`render --data`): a private file's check quoting the password fails
    with a line that names the file and does not hold the password."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "s.tmpl").write_text('pw={{ getv "/a/pw" }}\n')
    (tmp_path / "conf.d" / "s.toml").write_text(
        f'[template]\nsrc = "s.tmpl"\ndest = "{tmp_path}/s.conf"\nmode = "0600"\n'
        f'keys = ["/a"]\ncheck_cmd = \'echo "unexpected token \\"$(cut -d= -f2 {{{{.src}}}})\\""; false\'\n'
    )
    (tmp_path / "data.json").write_text(json.dumps({"/a/pw": SHORT}))
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", str(tmp_path), "--data", str(tmp_path / "data.json")
    )
    assert result.returncode != 0
    assert "check_cmd exited 1: <output withheld: " in result.stderr
    assert SHORT not in result.stderr + result.stdout


def test_a_private_files_check_output_transformed_by_tr_is_withheld(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """End to end: `tr a-z A-Z < {{.src}}` of a 0600 file fails with the output's length
    and checksum; the upper-cased secret appears nowhere."""
    secret = "mysecretpassword"
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "s.tmpl").write_text('pw={{ getv "/a/pw" }}\n')
    (tmp_path / "conf.d" / "s.toml").write_text(
        f'[template]\nsrc = "s.tmpl"\ndest = "{tmp_path}/s.conf"\nmode = "0600"\n'
        'keys = ["/a"]\ncheck_cmd = \'tr a-z A-Z < "$CONFPY_SRC"; rev "$CONFPY_SRC"; false\'\n'
    )
    (tmp_path / "data.json").write_text(json.dumps({"/a/pw": secret}))
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", str(tmp_path), "--data", str(tmp_path / "data.json")
    )
    assert result.returncode != 0
    assert "<output withheld: " in result.stderr and "by hand" in result.stderr
    shown = result.stderr + result.stdout
    for leak in (secret, secret.upper(), secret[::-1], secret.upper()[:8]):
        assert leak not in shown


def test_a_private_files_line_transformed_by_the_command_is_not_shown() -> None:
    """`tr a-z A-Z < {{.src}}` of a private file shows its key material upper-cased."""
    from confpy.redact import FileText, OutputScrubber

    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    scrubber = OutputScrubber([FileText("/etc/k.pem", "", body + "\n", True)], {}, [])
    assert body.upper()[:WINDOW_PART] not in scrubber.scrub(body.upper())


WINDOW_PART = 8
