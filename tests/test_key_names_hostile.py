"""A key name is data from etcd: through `each` it becomes a path that check, reload and
restart commands are given, and no byte of it is ever run by a shell or read as an option.

Every command form is tried at once on the same hostile keys, against a real etcd: a
shell string with the placeholder bare, in double quotes, in single quotes and inside a
word; an array without a shell; an array that runs `sh -c`. The commands record the
arguments they received; nothing else may happen (no marker file, anywhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confpy.apply.onetime import run_onetime
from confpy.apply.runner import RenderOptions, load_config
from confpy.errors import ConfigError
from confpy.store import EtcdStore
from tests.conftest import Confpy, wait_for
from tests.helpers import ConfTree

MARKER = "PWNED"
"""What every hostile name tries to create in the working directory."""

HOSTILE = [
    ";touch${IFS}PWNED;",
    "$(touch PWNED)",
    "`touch PWNED`",
    "'",
    '"',
    "\\",
    " ",
    "-rf",
    "--help",
    "&& touch PWNED",
    "|touch PWNED",
    ">PWNED",
    "*",
    "~",
    "#",
    "${IFS}",
    "$0",
    "!",
    "\n",
    "\r\n",
    "\t",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "\u202e",
    "\u2028",
    "\x00",
    "..",
    "é",
    "名",
    "🙂",
]

names = (
    st.lists(
        st.one_of(
            st.sampled_from(HOSTILE),
            st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/"), max_size=4),
        ),
        min_size=1,
        max_size=5,
    )
    .map("".join)
    .filter(lambda n: 0 < len(n.encode()) <= 60 and n != "sibling")
)


def refused(name: str) -> bool:
    """The spec of a name `each` refuses, written apart from the code that applies it."""
    unsafe = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    return (
        name in (".", "..")
        or "/" in name
        or name.startswith("-")
        or any(unicodedata.category(c) in unsafe for c in name)
    )


def forms(rec: str) -> dict[str, tuple[str | list[str], str | list[str]]]:
    """(check_cmd, reload_cmd) per form; each records its form, its step and its arguments."""
    return {
        "bare": (
            f"{rec} bare check {{{{ src }}}} {{{{.dest}}}}",
            f"{rec} bare reload {{{{dest}}}}",
        ),
        "dquoted": (
            f'{rec} dquoted check "{{{{ src }}}}" "{{{{ dest }}}}"',
            f'{rec} dquoted reload "{{{{ dest }}}}"',
        ),
        "squoted": (
            f"{rec} squoted check '{{{{ src }}}}' '{{{{ dest }}}}'",
            f"{rec} squoted reload '{{{{ dest }}}}'",
        ),
        "inword": (
            f"{rec} inword check --file={{{{src}}}} x{{{{dest}}}}y",
            f"{rec} inword reload x'{{{{dest}}}}'y",
        ),
        "array": (
            [rec, "array", "check", "{{ src }}", "{{ dest }}"],
            [rec, "array", "reload", "{{ dest }}"],
        ),
        "shc": (
            ["sh", "-c", f"{rec} shc check {{{{ src }}}} {{{{ dest }}}}"],
            ["env", "bash", "-o", "pipefail", "-c", f'{rec} shc reload "{{{{ dest }}}}" | cat'],
        ),
    }


class Setup:
    """A tree with one `each` resource per command form, a recorder, a scratch cwd."""

    def __init__(self, root: Path) -> None:
        self.tree = ConfTree(root)
        self.log = root / "calls"
        self.scratch = root / "cwd"
        self.scratch.mkdir()
        rec = root / "rec"
        rec.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{self.log}'\necho >> '{self.log}'\n")
        rec.chmod(0o755)
        self.tree.template("t.j2", "{{ each.name | length }}\n")
        self.forms = forms(str(rec))
        for form, (check, reload) in self.forms.items():
            out = self.tree.out / form
            out.mkdir()
            self.tree.resource(
                form,
                f'[template]\nsrc = "t.j2"\ndest = {json.dumps(str(out) + "/{{ name }}.conf")}\n'
                f'each = "/svc/*"\ncheck_cmd = {json.dumps(check)}\n'
                f"reload_cmd = {json.dumps(reload)}\n",
            )

    def calls(self, form: str, step: str) -> list[list[str]]:
        """The arguments of each call of `form`'s `step` command, after form and step."""
        if not self.log.exists():
            return []
        raw = [c.split(b"\0") for c in self.log.read_bytes().split(b"\0\n") if c]
        args = [[os.fsdecode(a) for a in c] for c in raw]
        return [c[2:] for c in args if c[:2] == [form, step]]


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    """Run commands with `directory` as the working directory (where `touch PWNED` lands)."""
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=names)
def test_hostile_key_names_never_run_and_commands_get_the_exact_path(
    store: EtcdStore, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    """Whatever a key name holds, nothing runs but the commands, each command form
    receives the exact paths as whole arguments, and a refused name fails alone while its
    sibling is written."""
    s = Setup(tmp_path_factory.mktemp("hostile"))
    keys = [f"/svc/{name}", "/svc/sibling"]
    for key in keys:
        store.put(key, b"v")
    try:
        config = load_config(s.tree.confdir)
        with inside(s.scratch):
            report = run_onetime(config, store, RenderOptions())
    finally:
        for key in keys:
            store.delete(key)
    assert list(s.scratch.iterdir()) == [], "a command ran in the scratch directory"
    assert not [p for p in s.tree.root.rglob(MARKER)] and not Path(MARKER).exists()
    files = ["sibling.conf"] if refused(name) else sorted(["sibling.conf", f"{name}.conf"])
    for form in s.forms:
        out = s.tree.out / form
        assert sorted(p.name for p in out.glob("*.conf")) == files, form
        checks, reloads = s.calls(form, "check"), s.calls(form, "reload")
        assert len(checks) == len(reloads) == len(files), (form, checks, reloads)
        for file in files:
            dest, stage = str(out / file), f"{out}/.{file}.confpy-"
            if form == "inword":
                dest, stage = f"x{dest}y", f"--file={stage}"
            assert [c[1] for c in checks].count(dest) == 1, (form, checks)
            [src] = [c[0] for c in checks if c[1] == dest]
            assert src.startswith(stage), (form, src)
            assert [dest] in reloads, (form, reloads)
    failed = {o.resource.name for o in report.outcomes if o.failed}
    assert failed == (set(s.forms) if refused(name) else set())


@pytest.mark.parametrize(
    "command",
    [
        "cat `echo {{ src }}`",
        "echo ${X:-{{ src }}}",
        "echo ${{ src }}",
        "echo \\{{ src }}",
        "true # {{ src }}",
        "echo $'{{ src }}'",
        "cat <<EOF\n{{ src }}\nEOF",
        "echo $(( {{ src }} ))",
    ],
)
def test_a_placeholder_the_shell_could_misread_is_refused_at_load(
    tree: ConfTree, command: str
) -> None:
    """Backquotes, `${...}`, after a backslash, a comment, `$'...'`, a here-document,
    arithmetic: one line naming the file, line and field, before anything runs."""
    tree.template("t.j2", "x")
    tree.resource(
        "t",
        f'[template]\nsrc = "t.j2"\ndest = "{{out}}/t"\nkeys = ["/k"]\n'
        f"check_cmd = {json.dumps(command)}\n",
    )
    with pytest.raises(ConfigError, match=r"t\.toml:5: check_cmd: \{\{ src \}\} .*: the shell"):
        load_config(tree.confdir)


def test_commands_see_the_paths_in_their_environment(tmp_path: Path) -> None:
    """`CONFPY_SRC` and `CONFPY_DEST` hold the paths, for commands that prefer variables."""
    from confpy.config.commands import prepare
    from confpy.supervise.process import run_command

    prepared = prepare('printf %s "$CONFPY_SRC|$CONFPY_DEST"', field="check_cmd",
                       src="/a b/$(x)", dest="/d;e")  # fmt: skip
    assert run_command(prepared, timeout=10).output == "/a b/$(x)|/d;e"


def test_a_relative_path_is_never_substituted() -> None:
    """A path that could start with `-` never reaches a command: paths are absolute."""
    from confpy.config.commands import prepare

    with pytest.raises(ValueError, match="absolute"):
        prepare(["cat", "{{ src }}"], field="check_cmd", src="-rf")


# -- reload_url -----------------------------------------------------------------------------


class _Recorder:
    """A one-shot HTTP server that keeps every raw request it receives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    "name", ["a\r\nX-Injected: 1\r\n\r\nGET /evil", "a b HTTP/1.0\r\n", "%0d%0aX: 1", "?x=1#"]
)
def test_reload_url_never_carries_a_key_name(store: EtcdStore, tree: ConfTree, name: str) -> None:
    """The request is exactly the configured one: no part of a key name in its line,
    headers or body, whatever the name holds (CR LF, spaces, percent escapes)."""
    server = _Recorder()
    try:
        tree.template("t.j2", "x\n")
        tree.resource(
            "t",
            '[template]\nsrc = "t.j2"\ndest = "{out}/{{ name }}.conf"\neach = "/svc/*"\n'
            f'reload_url = "http://127.0.0.1:{server.port}/-/reload"\n',
        )
        store.put(f"/svc/{name}", b"v")
        report = run_onetime(load_config(tree.confdir), store, RenderOptions())
    finally:
        server.close()
    assert report.ok or all("refuses" in str(o.error) for o in report.outcomes if o.failed)
    for request in server.requests:
        head = request.split(b"\r\n")
        assert head[0] == b"POST /-/reload HTTP/1.1"
        assert b"Injected" not in request and b"evil" not in request and b"%0d" not in request


def test_under_watch_a_refused_key_never_holds_back_the_other_files(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """A change set that brings hostile names along with a real change (an option, ESC,
    a name too long for a file): the real change is installed and reloaded at once; the
    refused names are reported, not written."""
    log = tree.root / "reloads"
    tree.template("t.j2", "{{ each.value }}\n")
    tree.resource(
        "t",
        '[template]\nsrc = "t.j2"\ndest = "{out}/{{ name }}.conf"\neach = "/svc/*"\n'
        f'reload_cmd = "echo reload >> {log}"\n',
    )
    store.put("/svc/api", b"1")
    daemon = confpy.start("render", "--watch", "--confdir", str(tree.confdir))
    wait_for(lambda: (tree.out / "api.conf").exists(), what="the first file")
    hostile = {"/svc/-rf": b"x", "/svc/a\x1b[2Jb": b"y", "/svc/" + "n" * 245: b"too long"}
    store.put_atomic({"/svc/api": b"2", **hostile}, {})
    wait_for(
        lambda: (tree.out / "api.conf").read_text() == "2\n",
        what="the change beside the refused names",
    )
    assert sorted(p.name for p in tree.out.glob("*.conf")) == ["api.conf"]
    wait_for(lambda: log.read_text().count("reload") == 2, what="the reload of the change")
    assert daemon.poll() is None
