"""Secrets never reach the screen or the log: `--noop` and `--stdout` of private files,
endpoint URLs with a password, and what check and reload commands print.

The secrets are a PEM private key and a password in etcd; templates transform them
(`upper`, `base64Encode`) before they reach the file. Every stream of the real CLI (stdout,
stderr, the JSON log on stderr at debug level) is searched for each secret in every form
the file holds it: raw, upper-cased, base64-encoded, and 16-character pieces of each.
"""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.redact import MIN_LINE, FileText, OutputScrubber, redact_url
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher
from tests.helpers import ConfTree, pem

PASSWORD = "hunter2-Correct-Horse-9"
SHORT = "Zq7!xw"
"""A secret shorter than redact.MIN_LINE, alone on a line of a private file."""


def _pieces(text: str) -> list[str]:
    """`text` whole when short, else every 16-character piece of it (lines joined)."""
    flat = "".join(text.split())
    if len(flat) <= 24:
        return [text]
    return [flat[i : i + 16] for i in range(0, len(flat) - 16, 8)]


def secret_forms() -> list[str]:
    """Every form the files below hold a secret in."""
    forms: list[str] = ["PRIVATE KEY"]
    for secret in (PASSWORD, pem()):
        for form in (secret, secret.upper(), base64.b64encode(secret.encode()).decode()):
            forms += _pieces(form)
    return forms


def leaked(*channels: str) -> list[str]:
    text = "".join(channels)
    return [f for f in secret_forms() if f in text]


def put_secrets(store: EtcdStore) -> None:
    store.put("/s/key", pem().encode())
    store.put("/s/pw", PASSWORD.encode())
    store.put("/s/short", SHORT.encode())


TRANSFORMED = (
    "user = app\n"
    "password = {{ getv('/s/pw') | upper }}\n"
    "password_b64 = {{ base64Encode(getv('/s/pw')) }}\n"
    "{{ getv('/s/key') | upper }}\n"
    "{{ base64Encode(getv('/s/key')) }}\n"
    "}\n"
)
"""A file holding both secrets only transformed: no raw value of etcd is in it."""


def run(confpy: Confpy, tree: ConfTree, *flags: str) -> subprocess.CompletedProcess[str]:
    return confpy.run(
        "render", "--onetime", "--confdir", str(tree.confdir), "--log-level", "debug", *flags
    )


# -- (a) --noop and --stdout never show a private file -------------------------------------


@pytest.mark.parametrize(
    ("old_mode", "new_mode"),
    [(0o600, "0644"), (0o640, "0644"), (None, "0640"), (0o644, "0600")],
    ids=["0600-becomes-0644", "0640-becomes-0644", "new-0640", "0644-becomes-0600"],
)
def test_noop_never_shows_a_line_of_a_private_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, old_mode: int | None, new_mode: str
) -> None:
    """A file is private when its old or new mode denies others read: the diff shows
    checksums, never its old or new lines, and nothing is written."""
    put_secrets(store)
    dest = tree.simple("app", TRANSFORMED, ["/s"], extra=f'mode = "{new_mode}"\n')
    if old_mode is not None:
        dest.write_text(f"old_password = {PASSWORD}\n{pem()}")
        os.chmod(dest, old_mode)
    before = dest.read_bytes() if old_mode is not None else None
    result = run(confpy, tree, "--noop")
    assert result.returncode == 0, result.stderr
    assert "contents hidden" in result.stdout, result.stdout
    assert not leaked(result.stdout, result.stderr)
    assert (dest.read_bytes() if dest.exists() else None) == before


def test_noop_and_stdout_never_show_a_file_marked_secret(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """`secret = true` makes a 0644 file private: checksums only, in --noop and --stdout."""
    put_secrets(store)
    tree.simple("app", TRANSFORMED, ["/s"], extra='mode = "0644"\nsecret = true\n')
    noop = run(confpy, tree, "--noop")
    stdout = run(confpy, tree, "--stdout")
    assert noop.returncode == 0 and stdout.returncode == 0, noop.stderr + stdout.stderr
    assert "contents hidden (mode 0644)" in noop.stdout, noop.stdout
    assert "(private, mode 0644: sha256:" in stdout.stdout, stdout.stdout
    assert not leaked(noop.stdout, noop.stderr, stdout.stdout, stdout.stderr)


def test_stdout_never_shows_a_private_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """`render --stdout` prints a private file's checksum under its header, not its lines."""
    put_secrets(store)
    tree.simple("key", "{{ getv('/s/key') }}", ["/s"], extra='mode = "0600"\n')
    tree.simple("public", "host = db1\n", ["/s"])
    result = run(confpy, tree, "--stdout")
    assert result.returncode == 0, result.stderr
    assert f"==> {tree.out / 'key'} <==\n(private, mode 0600: sha256:" in result.stdout
    assert f"==> {tree.out / 'public'} <==\nhost = db1\n" in result.stdout
    assert not leaked(result.stdout, result.stderr)


# -- (b) URLs with user information ------------------------------------------------------


BAD_URLS = [
    "http://user:s3cr3t-pw@host:99999",
    "ftp://user:s3cr3t-pw@host:2379",
    "http://user:s3cr3t-pw@[::1",
    "user:s3cr3t-pw@host:port",
    "http://ok:2379,http://user:s3cr3t-pw@host:x",
]


@pytest.mark.parametrize("where", ["flag", "confd-node-flag", "environment", "confpy.toml"])
@pytest.mark.parametrize("url", BAD_URLS)
def test_a_rejected_endpoint_never_shows_its_password(
    confpy_offline: Confpy, tree: ConfTree, where: str, url: str
) -> None:
    """One line, exit 2, the URL shown as `user:***@`: from the flag (or confd's repeated
    `--node`), the environment or the settings file."""
    env = confpy_offline.env()
    flags: list[str] = []
    if where == "flag":
        flags = ["--endpoints", url]
    elif where == "confd-node-flag":
        flags = ["--node", url, "--node", "http://other:2379"]
    elif where == "environment":
        env["CONFPY_ENDPOINTS"] = url
    else:
        (tree.confdir / "confpy.toml").write_text(f'endpoints = "{url}"\n')
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", str(tree.confdir), *flags, env=env
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "user:***@" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout


@given(
    user=st.text("abcdefgh", min_size=1, max_size=8),
    password=st.text(st.characters(blacklist_characters="/?#\n"), min_size=1, max_size=30),
    rest=st.sampled_from(["host:2379", "[::1]:2379", "h:x/p?q#f", "h", ""]),
    scheme=st.sampled_from(["http://", "https://", "ftp://", ""]),
)
def test_redact_url_hides_any_password(user: str, password: str, rest: str, scheme: str) -> None:
    """Whatever the password holds (`@`, `:`, spaces), what remains is `user:***@` and the
    host part: the helper `confpy confd` and settings share."""
    shown = redact_url(f"{scheme}{user}:{password}@{rest}")
    assert shown == f"{scheme}{user}:***@{rest}"


# -- (c) and (d): what check and reload commands print -------------------------------------


def test_check_output_never_shows_a_transformed_value(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A check command echoing the staged file shows none of its lines, whatever the
    template did to the values; the failure is still reported."""
    put_secrets(store)
    dest = tree.simple("app", TRANSFORMED, ["/s"], extra='check_cmd = "cat {{ src }}; exit 1"\n')
    result = run(confpy, tree)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert len(errors) == 1 and "check_cmd exited 1: user = app" in errors[0], result.stderr
    assert not leaked(result.stdout, result.stderr), errors
    assert not dest.exists()


def test_check_output_never_shows_part_of_a_transformed_line(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A checker that prints only the value (`unknown password 'HUNTER2-...'`) is scrubbed
    too: a 16-character stretch of the file is hidden wherever it occurs."""
    put_secrets(store)
    check = "sed -n 's/^password = //p' {{ src }}; exit 1"
    tree.simple("app", TRANSFORMED, ["/s"], extra=f'check_cmd = "{check}"\n')
    result = run(confpy, tree)
    assert result.returncode == 1
    assert "check_cmd exited 1:" in result.stderr
    assert not leaked(result.stdout, result.stderr)


def test_reload_output_is_scrubbed_before_it_is_logged(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A reload command that prints the installed file: neither the error line nor the
    log's `output` field shows a line of it, old or new."""
    put_secrets(store)
    dest = tree.simple(
        "app", TRANSFORMED, ["/s"], extra='reload_cmd = "cat {{ dest }} {{ dest }}.old; exit 1"\n'
    )
    Path(f"{dest}.old").write_text(f"old_password = {PASSWORD}\n")
    dest.write_text(f"old_password = {PASSWORD}\n")
    result = run(confpy, tree)
    assert result.returncode == 1
    assert '"output":' in result.stderr and "reload_cmd exited 1:" in result.stderr
    assert not leaked(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "command", ['check_cmd = "cat {{ src }}; exit 1"', 'reload_cmd = "cat {{ dest }}; exit 1"']
)
def test_command_output_never_shows_a_short_line_of_a_private_file(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, command: str
) -> None:
    """A private file's line shorter than MIN_LINE (a 6-character password alone) is
    hidden where it stands alone in the output, of a check or of a reload."""
    put_secrets(store)
    tree.simple("pw", "{{ getv('/s/short') }}\n", ["/s"], extra=f'mode = "0600"\n{command}\n')
    result = run(confpy, tree)
    assert result.returncode == 1
    assert "_cmd exited 1:" in result.stderr
    assert SHORT not in result.stdout + result.stderr


def test_the_daemon_log_and_healthz_never_show_reload_output(
    confpy: Confpy,
    tree: ConfTree,
    store: EtcdStore,
    watchers: list[Watcher],
) -> None:
    """Under --watch, a failing reload that prints the file: the log and /healthz name
    the failure, and show none of the file."""
    put_secrets(store)
    dest = tree.simple("app", TRANSFORMED, ["/s"], extra='reload_cmd = "cat {{ dest }}; exit 1"\n')
    port = free_port()
    w = Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
    watchers.append(w)

    def health() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return str(r.read().decode())
        except urllib.error.HTTPError as e:
            return str(e.read().decode())
        except OSError:
            return ""

    body = wait_for(lambda: "reload_cmd exited 1" in (h := health()) and h, what="reload failing")
    assert isinstance(body, str) and dest.exists()
    w.stop()
    assert w.events("resource failed"), "".join(w.stderr)
    assert not leaked(body, "".join(w.stderr))


SECRETISH = st.text(
    "0123456789!#$%&*+-=?@^_~ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=MIN_LINE, max_size=40
)


@given(
    lines=st.lists(SECRETISH, min_size=1, max_size=20),
    pick=st.integers(min_value=0),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    private=st.booleans(),
    old=st.booleans(),
)
def test_no_line_of_the_file_survives_in_command_output(
    lines: list[str], pick: int, before: str, after: str, private: bool, old: bool
) -> None:
    """Any line of 8+ characters of the old or new file, anywhere in any output, is hidden."""
    line = lines[pick % len(lines)]
    text = "\n".join(lines)
    f = FileText("/etc/app.conf", text if old else "", "" if old else text, private)
    shown = OutputScrubber([f], {}, ["{{ getv('/k') }}"]).scrub(before + line + after)
    assert line not in shown
