"""Nothing from etcd or from files reaches a terminal raw: a control character in a key
name, a path or a command's output is shown escaped on every `confpy: error:` line and
in the console log, as the JSON log escapes it, so it can neither forge a line nor drive
the terminal."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy import log
from confpy.cli import _report
from confpy.errors import CommandError
from confpy.store import EtcdStore
from tests.conftest import Confpy
from tests.helpers import ConfTree

FORGERY = "\x1b[2K\x1b[1A\rok\nconfpy: info: all good\u202e\u2028\x00\x7f\x9b"
"""Erase the line, move up, a fake second line, a bidi override, a line separator, NUL."""

anything = st.text(st.characters(), max_size=80) | st.sampled_from([FORGERY, "\r\n", "\udcff"])


def unsafe(text: str) -> list[str]:
    """The characters of `text` a terminal would act on or break a line at."""
    return [c for c in text if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}]


@pytest.fixture(autouse=True)
def unconfigure() -> Iterator[None]:
    """Each test configures logging itself; afterwards events go to structlog's defaults."""
    yield
    log._state.level = None
    log._state.json = False
    import structlog

    structlog.reset_defaults()


@given(message=anything)
def test_an_error_line_is_one_line_without_control_characters(message: str) -> None:
    """Whatever an error says, `confpy: error:` prints one line a terminal only displays."""
    line = log.error_line(message)
    assert line.startswith("confpy: error: ")
    assert len(line.splitlines()) == 1 and unsafe(line) == []


@given(message=st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_printable_text_is_shown_as_it_is(message: str) -> None:
    """Escaping changes only what it must: names in any script and spaces stay readable."""
    assert log.escape(message) == message


def test_the_cli_error_line_escapes_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's one error boundary writes a forged message as one escaped line."""
    _report(CommandError(f"reload_cmd exited 1: {FORGERY}", command="x"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and unsafe(err.rstrip("\n")) == []
    assert "\\x1b[2K" in err and "\\nconfpy: info: all good" in err and "\\u202e" in err


@given(event=anything, value=anything)
def test_a_console_log_line_is_one_line_without_control_characters(event: str, value: str) -> None:
    """The console renderer (a terminal's log) escapes the event and every text field."""
    buf = io.StringIO()
    log.configure("info", "console", buf)
    log.get_logger("confpy.apply.each").warning(event, key=value, dest=f"/out/{value}.conf")
    out = buf.getvalue()
    assert out.endswith("\n") and len(out.splitlines()) == 1, out
    assert unsafe(out.rstrip("\n")) == []


def test_command_output_with_escapes_reaches_stderr_escaped(confpy: Confpy, tree: ConfTree) -> None:
    """A check_cmd that prints ESC sequences and a fake `confpy: info:` line: the error
    line shows them escaped, and no line of stderr is forged."""
    tree.simple(
        "app",
        "x\n",
        ["/k"],
        extra="check_cmd = \"printf '\\\\033[2K\\\\033[1Aconfpy: info: all good\\\\n'; exit 1\"\n",
    )
    env = confpy.env(CONFPY_LOG_FORMAT="console")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir), env=env)
    assert result.returncode == 1
    assert not [line for line in result.stderr.splitlines() if line.startswith("confpy: info")]
    assert unsafe(result.stderr.replace("\n", "")) == []
    [line] = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert "\\x1b[2K\\x1b[1Aconfpy: info: all good" in line


def test_a_hostile_each_key_is_named_escaped(confpy: Confpy, tree: ConfTree) -> None:
    """A key name holding ESC and a newline: one error line naming it escaped, in both
    the error line and the console log, and its sibling is written."""
    from confpy.config.settings import load_settings
    from confpy.store import EtcdStore

    tree.template("t.j2", "x\n")
    tree.resource(
        "t", '[template]\nsrc = "t.j2"\ndest = "{out}/{{ name }}.conf"\neach = "/svc/*"\n'
    )
    assert confpy.endpoint is not None
    store = EtcdStore(load_settings({"endpoints": confpy.endpoint, "confdir": "/nonexistent"}, {}))
    try:
        store.put("/svc/a\x1b[2J\nconfpy: info: all good", b"v")
        store.put("/svc/ok", b"v")
    finally:
        store.close()
    env = confpy.env(CONFPY_LOG_FORMAT="console")
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir), env=env)
    assert result.returncode == 1
    assert unsafe(result.stderr.replace("\n", "")) == []
    assert not [line for line in result.stderr.splitlines() if line.startswith("confpy: info")]
    [line] = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert "/svc/a\\x1b[2J\\nconfpy: info: all good" in line
    assert (tree.out / "ok.conf").exists()


def test_tls_show_prints_a_certificates_names_escaped(confpy: Confpy, store: EtcdStore) -> None:
    """A published certificate's subject and SANs come from etcd: `tls show` prints them
    with ESC and newlines escaped, one line per field."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from confpy.tls import keypairs as tls

    key = tls.generate_key("ec-p256")
    forged = "a\x1b[2J\nstatus:      OK"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, forged)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("x\x1b]0;t\x07.example")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    store.put("/tls/ssl_certificate", tls.cert_to_pem(cert))
    store.put("/tls/ssl_private_key", tls.key_to_pem(key))
    result = confpy.run("tls", "show", "--prefix", "/tls")
    assert result.returncode == 0, result.stderr
    assert unsafe(result.stdout.replace("\n", "")) == []
    assert [line for line in result.stdout.splitlines() if line.startswith("status:")] == [
        "status:      OK"
    ]
    assert "a\\x1b[2J\\nstatus:      OK" in result.stdout


def test_confpy_confd_error_line_is_escaped(confpy_offline: Confpy, tmp_path: Path) -> None:
    """`confpy confd`'s own error line escapes too: a path with ESC names the bad file."""
    confdir = tmp_path / "conf\x1b[2Jd"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "confd.toml").write_text("backend = [")
    result = confpy_offline.run(
        "confd", "-onetime", "-backend", "env", "-confdir", str(confdir),
        "-config-file", str(confdir / "confd.toml"),
    )  # fmt: skip
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert "conf\\x1b[2Jd/confd.toml:1: invalid TOML" in line and unsafe(line) == []
