"""`confpy confd` with confd's own command line renders what the real confd renders.

Each test runs the real confd (/work/shared/anchors/confd, or $CONFD_BIN) and `confpy
confd` with the same arguments on the same etcd and compares the files byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.store import EtcdStore
from tests.confd_diff import CONFD, confd_available, confd_env
from tests.conftest import ROOT, Confpy, wait_for

needs_confd = pytest.mark.skipif(
    not confd_available(), reason=f"the confd binary is absent ({CONFD}; set CONFD_BIN)"
)

TEMPLATE = """\
global
{{range gets "/app/servers/*"}}  server {{base .Key}} {{.Value}}
{{end}}name={{getv "/app/name"}}
{{if exists "/app/ssl"}}ssl on{{else}}ssl off{{end}}
"""


def make_confdir(root: Path, out: Path, name: str = "haproxy.cfg.tmpl", prefix: str = "") -> Path:
    """A confd confdir with one resource rendering templates/NAME into `out`."""
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / name).write_text(TEMPLATE)
    extra = f'prefix = "{prefix}"\n' if prefix else ""
    (root / "conf.d" / "haproxy.toml").write_text(
        f'[template]\nsrc = "{name}"\ndest = "{out}"\nkeys = ["/app"]\n{extra}'
    )
    return root


@pytest.fixture
def keys(store: EtcdStore) -> EtcdStore:
    store.put("/app/name", b"web")
    store.put("/app/servers/a", b"10.0.0.1:80")
    store.put("/app/servers/b", b"10.0.0.2:80")
    return store


def run_confd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONFD), *args], capture_output=True, text=True, timeout=60, env=env or confd_env()
    )


def run_confpy_confd(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confpy", "confd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or confd_env(),
    )


def both(
    tmp_path: Path, argv: list[str], prefix: str = "", src: str = "haproxy.cfg.tmpl"
) -> tuple[bytes | None, bytes | None]:
    """Render with confd and confpy confd (`{confdir}` in argv is each one's own)."""
    results: list[bytes | None] = []
    for name, runner in (("confd", run_confd), ("confpy", run_confpy_confd)):
        out = tmp_path / f"out-{name}"
        confdir = make_confdir(tmp_path / f"confdir-{name}", out, src, prefix)
        result = runner(*[a.replace("{confdir}", str(confdir)) for a in argv])
        assert result.returncode == 0, f"{name}: {result.stderr}"
        results.append(out.read_bytes() if out.exists() else None)
    return results[0], results[1]


SPELLINGS = [
    ["-onetime", "-backend", "etcdv3", "-node", "{etcd}", "-confdir", "{confdir}"],
    ["--onetime", "--backend=etcdv3", "--node={etcd}", "--confdir", "{confdir}"],
    ["-onetime=true", "-backend=etcdv3", "-node", "{etcd}", "-confdir={confdir}"],
    ["-backend", "etcdv3", "-onetime=1", "-node={etcd}", "-confdir", "{confdir}", "--"],
    ["-onetime", "-backend", "etcdv3", "-node", "{etcd}", "-node", "{etcd}", "-confdir",
     "{confdir}", "-log-level", "error", "-config-file", "/nonexistent/confd.toml"],
]  # fmt: skip


@needs_confd
@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda s: " ".join(s[:3]))
def test_onetime_renders_confds_bytes_in_every_flag_spelling(
    keys: EtcdStore, etcd: str, tmp_path: Path, spelling: list[str]
) -> None:
    """Each spelling of `confd -onetime -backend etcdv3 -node URL -confdir DIR` renders
    exactly what confd renders from it."""
    argv = [a.replace("{etcd}", etcd) for a in spelling]
    confd, confpy = both(tmp_path, argv)
    assert confd is not None and b"server a 10.0.0.1:80" in confd
    assert confpy == confd


@needs_confd
def test_a_src_not_ending_in_tmpl_is_a_go_template_as_in_confd(
    keys: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """`src = "haproxy.cfg"` renders as confd renders it (confd has one template language)."""
    argv = ["-onetime", "-backend", "etcdv3", "-node", etcd, "-confdir", "{confdir}"]
    confd, confpy = both(tmp_path, argv, src="haproxy.cfg")
    assert confd is not None and confpy == confd


@needs_confd
def test_global_prefix_replaces_the_resource_prefix_as_in_confd(
    store: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """`-prefix /site` with a resource `prefix = "/other"` reads /site/app, as confd does."""
    store.put("/site/app/name", b"prefixed")
    argv = ["-onetime", "-backend", "etcdv3", "-node", etcd, "-confdir", "{confdir}",
            "-prefix", "/site"]  # fmt: skip
    confd, confpy = both(tmp_path, argv, prefix="/other")
    assert confd is not None and b"name=prefixed" in confd
    assert confpy == confd


@needs_confd
def test_global_prefix_of_the_root_replaces_the_resource_prefix_as_in_confd(
    keys: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """`-prefix /` with a resource `prefix = "/other"` reads from the root, as confd does."""
    argv = ["-onetime", "-backend", "etcdv3", "-node", etcd, "-confdir", "{confdir}",
            "-prefix", "/"]  # fmt: skip
    confd, confpy = both(tmp_path, argv, prefix="/other")
    assert confd is not None and b"name=web" in confd
    assert confpy == confd


@needs_confd
def test_confd_toml_overrides_the_command_line_as_in_confd(
    keys: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """confd.toml's `nodes` and `prefix` win over -node and -prefix (confd's order)."""
    keys.put("/p/app/name", b"from-file-prefix")
    toml = tmp_path / "confd.toml"
    toml.write_text(f'backend = "etcdv3"\nnodes = ["{etcd}"]\nprefix = "/p"\n')
    argv = ["-onetime", "-node", "http://127.0.0.1:1", "-prefix", "/flag", "-confdir",
            "{confdir}", "-config-file", str(toml)]  # fmt: skip
    confd, confpy = both(tmp_path, argv)
    assert confd is not None and b"name=from-file-prefix" in confd
    assert confpy == confd


@needs_confd
def test_a_symlink_named_confd_runs_confpys_confd_command(
    keys: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """confpy installed under the name `confd` takes confd's command line."""
    link = tmp_path / "bin" / "confd"
    link.parent.mkdir()
    link.symlink_to(Path(sys.executable).parent / "confpy")
    out = tmp_path / "out"
    confdir = make_confdir(tmp_path / "confdir", out)
    result = subprocess.run(
        [str(link), "-onetime", "-backend", "etcdv3", "-node", etcd, "-confdir", str(confdir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=confd_env(),
    )
    assert result.returncode == 0, result.stderr
    confd, _ = both(tmp_path / "ref", ["-onetime", "-backend", "etcdv3", "-node", etcd,
                                       "-confdir", "{confdir}"])  # fmt: skip
    assert out.read_bytes() == confd


@pytest.fixture
def confd_watch(etcd: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    out = tmp_path / "out"
    confdir = make_confdir(tmp_path / "confdir", out)
    command = Confpy(etcd)
    proc = command.start(
        "confd", "-watch", "-backend", "etcdv3", "-node", etcd, "-confdir", str(confdir),
        env=confd_env(),
    )  # fmt: skip
    yield proc, out
    command.close()


def test_watch_brings_a_put_to_the_file(
    keys: EtcdStore, confd_watch: tuple[subprocess.Popen[str], Path]
) -> None:
    """`confpy confd -watch`: a put after the start reaches the destination."""
    proc, out = confd_watch
    wait_for(lambda: out.exists() and b"name=web" in out.read_bytes(), what="first render")
    keys.put("/app/name", b"changed")
    wait_for(lambda: b"name=changed" in out.read_bytes(), what="the put in the file")
    assert proc.poll() is None


def test_a_failed_onetime_exits_1_as_confd_does(tmp_path: Path) -> None:
    """etcd unreachable: confd's exit code 1, one error line."""
    out = tmp_path / "out"
    confdir = make_confdir(tmp_path / "confdir", out)
    result = run_confpy_confd(
        "-onetime", "-backend", "etcdv3", "-node", "http://127.0.0.1:1", "-confdir", str(confdir)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_node_password_never_reaches_a_message(tmp_path: Path) -> None:
    """A node URL with credentials in an error shows `***` for the password."""
    confdir = make_confdir(tmp_path / "confdir", tmp_path / "out")
    result = run_confpy_confd(
        "-onetime", "-backend", "etcdv3", "-node", "http://admin:s3cret-pw@:bad:port",
        "-confdir", str(confdir),
    )  # fmt: skip
    assert result.returncode == 1
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "admin:***@" in result.stderr


def test_an_unknown_backend_is_refused_in_one_line_naming_the_supported_ones(
    tmp_path: Path,
) -> None:
    """-backend consul: exit 1 and one line listing etcdv3, etcd, env, file."""
    confdir = make_confdir(tmp_path / "confdir", tmp_path / "out")
    result = run_confpy_confd("-onetime", "-backend", "consul", "-confdir", str(confdir))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "etcdv3, etcd, env, file" in errors[0]


def test_help_lists_confd_flags_and_exits_0() -> None:
    """-help prints Go's usage (every confd flag) to stderr and exits 0, as confd does."""
    result = run_confpy_confd("-help")
    assert result.returncode == 0
    for flag in ("-backend string", "-node value", "-onetime", "-interval int", "-watch"):
        assert flag in result.stderr


def test_version_says_confd_and_confpy() -> None:
    """-version prints one confd-like line naming confpy."""
    result = run_confpy_confd("-version")
    assert result.returncode == 0
    assert result.stdout.startswith("confd 0.17.0-dev (confpy ")


def test_confpy_help_lists_the_confd_command() -> None:
    """`confpy --help` names the confd subcommand."""
    result = subprocess.run(
        [sys.executable, "-m", "confpy", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert "confd" in result.stdout


@pytest.mark.parametrize("layout", ["no confdir", "empty conf.d"])
def test_no_template_resources_is_a_warning_and_exit_0_as_in_confd(
    tmp_path: Path, layout: str
) -> None:
    """confd warns ("does not exist", "Found no templates") and exits 0: so does confpy."""
    confdir = tmp_path / "confdir"
    if layout == "empty conf.d":
        (confdir / "conf.d").mkdir(parents=True)
    result = run_confpy_confd("-onetime", "-backend", "env", "-confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    assert "no template resources" in result.stderr


def test_noop_prints_the_change_and_writes_nothing(tmp_path: Path) -> None:
    """-onetime -noop: a diff on stdout, the destination untouched."""
    out = tmp_path / "out"
    confdir = make_confdir(tmp_path / "confdir", out, "plain.tmpl")
    (confdir / "templates" / "plain.tmpl").write_text('name={{getv "/app/name"}}\n')
    env = confd_env() | {"APP_NAME": "web"}
    result = run_confpy_confd("-onetime", "-noop", "-backend", "env", "-confdir", str(confdir),
                              env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "+name=web" in result.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    "argv", [["-watch", "-noop"], ["-noop"], ["-interval", "0"], ["-interval=-5"]]
)
def test_modes_confpy_confd_cannot_run_are_refused_in_one_line(
    tmp_path: Path, argv: list[str]
) -> None:
    """-noop outside -onetime and a polling interval below 1: exit 1, one error line."""
    confdir = make_confdir(tmp_path / "confdir", tmp_path / "out")
    result = run_confpy_confd(*argv, "-backend", "env", "-confdir", str(confdir))
    assert result.returncode == 1
    assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1


@needs_confd
def test_backend_etcd_is_served_through_v3_and_says_so_once(
    keys: EtcdStore, etcd: str, tmp_path: Path
) -> None:
    """confd's default backend `etcd` (the v2 API, gone from etcd): read through v3, as confd
    master does, with one log line saying so."""
    confd, confpy = both(tmp_path, ["-onetime", "-node", etcd, "-confdir", "{confdir}"])
    assert confd is not None and confpy == confd
    result = run_confpy_confd("-onetime", "-backend", "etcd", "-node", etcd, "-confdir",
                              str(tmp_path / "confdir-confpy"))  # fmt: skip
    assert result.stderr.count("v3 API") == 1


def test_a_node_url_with_a_password_is_never_printed_even_when_it_parses(tmp_path: Path) -> None:
    """http://admin:PW@127.0.0.1:1: a warning (redacted), then etcd unreachable: no PW."""
    confdir = make_confdir(tmp_path / "confdir", tmp_path / "out")
    result = run_confpy_confd("-onetime", "-backend", "etcdv3", "-node",
                              "http://admin:s3cret-pw@127.0.0.1:1", "-confdir", str(confdir))  # fmt: skip
    assert result.returncode == 1
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "admin:***@127.0.0.1:1" in result.stderr
