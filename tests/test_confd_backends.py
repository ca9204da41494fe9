"""The env and file backends, as confd's: byte for byte against the real confd, and watched.

`confpy confd -backend env|file` and `confpy render --backend env|file` read the same keys
confd reads: environment variables `APP_DB_HOST` as `/app/db/host`, YAML files with nested
maps and lists as keys. Nothing here needs etcd.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confpy.errors import ConfigError, StoreUnavailableError
from confpy.golib.yaml import read_yaml
from confpy.store.env import EnvStore, key_of, variable_prefix
from confpy.store.file import FileStore
from tests.confd_diff import CONFD, confd_available, confd_env
from tests.conftest import Confpy, wait_for

needs_confd = pytest.mark.skipif(
    not confd_available(), reason=f"the confd binary is absent ({CONFD}; set CONFD_BIN)"
)

TEMPLATE = """\
{{range gets "/app/*"}}{{.Key}}={{.Value}}
{{end}}{{range $i, $d := lsdir "/app"}}dir {{$d}}
{{end}}{{range gets "/app/*/*"}}{{.Key}}={{.Value}}
{{end}}{{range gets "/app/*/*/*"}}{{.Key}}={{.Value}}
{{end}}"""

YAML = """\
app:
  name: web
  port: 0x50
  ratio: 1.50
  big: 1e3
  enabled: yes
  nothing: ~
  when: 2001-12-14
  quoted: "017"
  servers:
    - 10.0.0.1
    - 10.0.0.2
    - {host: c, port: 81}
  db:
    host: db.local
other: ignored
"""


def confdir(root: Path, out: Path, keys: str = '["/app"]') -> Path:
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "app.conf.tmpl").write_text(TEMPLATE)
    (root / "conf.d" / "app.toml").write_text(
        f'[template]\nsrc = "app.conf.tmpl"\ndest = "{out}"\nkeys = {keys}\n'
    )
    return root


def render_both(tmp_path: Path, args: list[str], env: dict[str, str]) -> tuple[bytes, bytes]:
    """confd ARGS and `confpy confd` ARGS, each on its own confdir; both outputs."""
    outputs = []
    for name, program in (("confd", [str(CONFD)]), ("confpy", [sys.executable, "-m", "confpy",
                                                               "confd"])):  # fmt: skip
        out = tmp_path / f"out-{name}"
        cdir = confdir(tmp_path / f"confdir-{name}", out)
        result = subprocess.run(
            [*program, *args, "-onetime", "-confdir", str(cdir), "-log-level", "error"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"
        outputs.append(out.read_bytes())
    return outputs[0], outputs[1]


@needs_confd
def test_env_backend_renders_confds_bytes(tmp_path: Path) -> None:
    """APP_NAME, APP_DB_HOST, APP_SERVERS_0...: confd's key <-> variable mapping."""
    env = confd_env() | {
        "APP_NAME": "web",
        "APP_DB_HOST": "db.local",
        "APP_DB_PORT": "5432",
        "APP_SERVERS_0": "10.0.0.1",
        "APPLE": "not under /app",
        "app_lower": "not read: confd upper-cases the key",
    }
    confd, confpy = render_both(tmp_path, ["-backend", "env"], env)
    assert b"/app/name=web" in confd and b"/app/db/host=db.local" in confd
    assert confpy == confd


@needs_confd
def test_file_backend_renders_confds_bytes(tmp_path: Path) -> None:
    """Nested maps, lists by index, YAML 1.1 scalars printed as Go prints them."""
    data = tmp_path / "data.yaml"
    data.write_text(YAML)
    confd, confpy = render_both(tmp_path, ["-backend", "file", "-file", str(data)], confd_env())
    assert b"/app/servers/2/port=81" in confd and b"/app/port=80" in confd
    assert confpy == confd


@needs_confd
def test_file_backend_reads_directories_with_a_filter_as_confd(tmp_path: Path) -> None:
    """-file DIR -filter '*.yaml': files below DIR matching the filter, later ones winning."""
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    (d / "a.yaml").write_text("app:\n  name: first\n  x: 1\n")
    (d / "sub" / "b.yaml").write_text("app:\n  name: second\n")
    (d / "c.yml").write_text("app:\n  name: filtered-out\n")
    args = ["-backend", "file", "-file", str(d), "-filter", "*.yaml"]
    confd, confpy = render_both(tmp_path, args, confd_env())
    assert b"/app/name=second" in confd and b"/app/x=1" in confd
    assert confpy == confd


def test_env_mapping_is_confds() -> None:
    """transform/clean: `/app/db` reads `APP_DB*`; `APP_DB_HOST` is `/app/db/host`."""
    assert variable_prefix("/app/db") == "APP_DB"
    assert key_of("APP_DB_HOST") == "/app/db/host"
    store = EnvStore({"APP_X": "1", "APPLE": "2", "app_y": "3", "OTHER": "4"})
    assert dict(store.snapshot(["/app"]).values) == {"/app/x": b"1"}


def test_env_backend_has_nothing_to_watch_and_stops_when_asked() -> None:
    """The environment never changes: watch waits for stop, as confd's does."""
    import threading

    stop = threading.Event()
    stop.set()
    assert list(EnvStore({}).watch(["/"], 2, stop)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1", {"/a": "1"}),
        ("a: 0x10", {"/a": "16"}),
        ("a: 017", {"/a": "15"}),
        ("a: 08", {"/a": "8"}),
        ("a: 1_000", {"/a": "1000"}),
        ("a: 1.50", {"/a": "1.5"}),
        ("a: 1e3", {"/a": "1000"}),
        ("a: .5", {"/a": "0.5"}),
        ("a: .inf", {"/a": "+Inf"}),
        ("a: 9223372036854775808", {}),
        ("a: 18446744073709551616", {"/a": "18446744073709552000"}),
        ("a: y", {"/a": "true"}),
        ("a: Off", {"/a": "false"}),
        ("a: ~", {}),
        ("a:", {}),
        ("a: 1:30", {"/a": "1:30"}),
        ("a: 2001-12-14", {"/a": "2001-12-14"}),
        ('a: "0x10"', {"/a": "0x10"}),
        ("a: !!str 12", {"/a": "12"}),
        ("a: [x, [z]]", {"/a/0": "x", "/a/1/0": "z"}),
        ("a/../b: 1", {"/b": "1"}),
        ("b: &b {x: 1}\nc: {<<: *b, w: 2}", {"/b/x": "1", "/c/x": "1", "/c/w": "2"}),
        ("", {}),
    ],
)
def test_yaml_scalars_read_as_yaml_v2_and_confds_walk_print_them(
    text: str, expected: dict[str, str]
) -> None:
    """Each line checked against the real confd's file backend."""
    assert read_yaml(text, "f.yaml") == expected


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: 1\n1: x\n", 2), ("- a\n", 1), ("a: [\n", 2), ("a: 1\nyes: 2\n", 2)],
)
def test_yaml_confd_cannot_read_is_one_line_naming_file_and_line(text: str, line: int) -> None:
    """Non-string keys (confd panics), a list at the top, broken YAML."""
    with pytest.raises(ConfigError, match=rf"^f\.yaml:{line}: "):
        read_yaml(text, "f.yaml")


def test_file_store_has_a_new_revision_only_when_keys_change(tmp_path: Path) -> None:
    """Rewriting the same content is no change; a new value is a new revision."""
    f = tmp_path / "d.yaml"
    f.write_text("a: 1\n")
    store = FileStore([f])
    first = store.snapshot(["/"]).revision
    f.write_text("a: 1\n")
    assert store.snapshot(["/"]).revision == first
    f.write_text("a: 2\n")
    assert store.snapshot(["/"]).revision == first + 1


def test_file_store_watch_reports_a_change_as_events(tmp_path: Path) -> None:
    """An edit becomes a batch with the changed and the deleted keys."""
    import threading

    f = tmp_path / "d.yaml"
    f.write_text("a: 1\nb: 2\n")
    store = FileStore([f], poll_interval=0.01)
    start = store.snapshot(["/"]).revision
    stop = threading.Event()
    stream = store.watch(["/"], start + 1, stop)
    f.write_text("a: 3\n")
    batch = next(stream)
    stop.set()
    assert [(e.key, e.value) for e in batch.events] == [("/a", b"3"), ("/b", None)]


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    """-file that does not exist: ConfigError naming the path."""
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file"):
        FileStore([tmp_path / "nope.yaml"])


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    data = tmp_path / "data.yaml"
    data.write_text("app:\n  name: first\n")
    out = tmp_path / "out"
    cdir = confdir(tmp_path / "confdir", out)
    command = Confpy(None)
    proc = command.start(
        "confd", "-watch", "-backend", "file", "-file", str(data), "-confdir", str(cdir),
        env=confd_env(),
    )  # fmt: skip
    yield data, out, proc
    command.close()


def test_confd_watch_on_the_file_backend_follows_file_edits(
    watching: tuple[Path, Path, subprocess.Popen[str]],
) -> None:
    """`confpy confd -watch -backend file`: editing the YAML file re-renders."""
    data, out, proc = watching
    wait_for(lambda: out.exists() and b"/app/name=first" in out.read_bytes(), what="first render")
    data.write_text("app:\n  name: second\n")
    wait_for(lambda: b"/app/name=second" in out.read_bytes(), what="the edit in the file")
    assert proc.poll() is None


def test_interval_mode_polls_the_backend(tmp_path: Path) -> None:
    """Neither -onetime nor -watch: confd's polling, every -interval seconds."""
    data = tmp_path / "data.yaml"
    data.write_text("app:\n  name: first\n")
    out = tmp_path / "out"
    cdir = confdir(tmp_path / "confdir", out)
    command = Confpy(None)
    try:
        command.start("confd", "-interval", "1", "-backend", "file", "-file", str(data),
                      "-confdir", str(cdir), env=confd_env())  # fmt: skip
        wait_for(lambda: out.exists() and b"name=first" in out.read_bytes(), what="first render")
        data.write_text("app:\n  name: second\n")
        wait_for(lambda: b"name=second" in out.read_bytes(), what="the next poll")
    finally:
        command.close()


@pytest.mark.parametrize("backend", ["env", "file"])
def test_render_reaches_the_same_backends(tmp_path: Path, backend: str) -> None:
    """`confpy render --backend env|file` reads what `confpy confd -backend ...` reads."""
    data = tmp_path / "data.yaml"
    data.write_text("app:\n  name: web\n")
    out = tmp_path / "out"
    cdir = confdir(tmp_path / "confdir", out)
    extra = ["--file", str(data)] if backend == "file" else []
    result = subprocess.run(
        [sys.executable, "-m", "confpy", "render", "--onetime", "--backend", backend,
         *extra, "--confdir", str(cdir)],
        capture_output=True, text=True, timeout=60, env=confd_env() | {"APP_NAME": "web"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"/app/name=web\n")


def test_a_yaml_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    """Nine levels of nine aliases (387 million keys) stop at MAX_DATA_NODES with one line."""
    doc = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(ConfigError, match="more than 250000 keys"):
        read_yaml(doc, "bomb.yaml")


def test_a_half_written_file_is_unavailable_not_fatal(tmp_path: Path) -> None:
    """A broken file makes a snapshot StoreUnavailableError (the daemon retries those, as
    for etcd), and the watch delivers the next good edit."""
    import threading

    f = tmp_path / "d.yaml"
    f.write_text("a: 1\n")
    store = FileStore([f], poll_interval=0.01)
    start = store.snapshot(["/"]).revision
    stop = threading.Event()
    stream = store.watch(["/"], start + 1, stop)
    f.write_text("a: [\n")
    with pytest.raises(StoreUnavailableError):
        store.snapshot(["/"])
    f.write_text("a: 2\n")
    batch = next(stream)
    stop.set()
    assert [(e.key, e.value) for e in batch.events] == [("/a", b"2")]


HOSTILE_YAML = """\
app:
  "a;touch${IFS}PWNED;b": "$(touch PWNED2)"
  "-rf": "--help"
  "../x": up
  esc: "\\e[31mred\\e[0m"
  multi: "line1\\nline2"
  unicode: "héllo ✓"
  key: |
    -----BEGIN PRIVATE KEY-----
    MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA
    -----END PRIVATE KEY-----
"""


@needs_confd
def test_hostile_key_names_and_values_render_as_confd_and_run_nothing(tmp_path: Path) -> None:
    """Shell metacharacters, `-rf`, `../x`, ESC, newlines, a private key: the same bytes as
    confd, and no command interprets any of them (no PWNED file appears)."""
    data = tmp_path / "data.yaml"
    data.write_text(HOSTILE_YAML)
    confd, confpy = render_both(tmp_path, ["-backend", "file", "-file", str(data)], confd_env())
    assert b"/app/-rf=--help" in confd and b"BEGIN PRIVATE KEY" in confd
    assert confpy == confd
    assert not list(tmp_path.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


@given(
    st.one_of(st.text(max_size=200), st.text(alphabet="ab:-[]{}&*!|>\"' \n#0.yn~,?<x", max_size=80))
)
@settings(max_examples=1000, deadline=None)
def test_any_yaml_text_gives_keys_or_one_config_error(text: str) -> None:
    """Whatever a -file holds: string keys and values, or one ConfigError line."""
    try:
        keys = read_yaml(text, "f.yaml")
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    assert all(k.startswith("/") and isinstance(v, str) for k, v in keys.items())


@pytest.mark.parametrize("text", ["a: " + "[" * 5000, "a: &a [*a]", "a: &a {b: *a}"])
def test_deep_or_self_referencing_yaml_is_one_error(text: str) -> None:
    """Deep nesting and recursive aliases stop with a ConfigError, not a RecursionError."""
    with pytest.raises(ConfigError, match=r"nest|a node that holds it"):
        read_yaml(text, "f.yaml")
