"""Start only what runs: the import budget of each path (issue 22).

Each command runs in a fresh interpreter, as a user runs it, and reports `sys.modules` at
exit. Import time is most of a one-shot's cost (see docs/operations.md, "Performance"),
so a module that creeps into these paths shows up here, not as a slow benchmark later:
the budgets are sets of modules, compared deterministically, not timings. `--version`
(confpy's and confd's) may load nothing beyond what `python -c pass` loads but the CLI;
`--help` loads argparse and the command modules, not settings or dataclasses; a one-shot
loads the engine its templates need and not the other, and no TLS over http://.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Confpy, wait_for
from tests.helpers import ConfTree
from tests.modules_probe import (
    GRPC,
    NETWORK,
    PROBE,
    etcdctl_put,
    interpreter_modules,
    loaded_modules,
    present,
)

# Never needed by these commands: an HTTP server (health), asyncio, the daemon, crypto
# (tls rotate), DNS (lookupSRV), YAML (validate = "yaml") and RE2 (the regex functions).
_SERVER_AND_EXTRAS = {
    "asyncio",
    "http.server",
    "socketserver",
    "confpy.watch.daemon",
    "confpy.watch.health",
    "cryptography",
    "dns",
    "yaml",
    "re2",
}
# What `--help` needs none of: settings (dataclasses brings inspect, ast, dis, tokenize).
_SETTINGS = {"confpy.config.settings", "dataclasses", "inspect", "tomllib", "urllib.parse"}
# Loaded only where they run: the subreaper (ctypes), --noop diffs (difflib), a float in a
# Go template (decimal), a watch's jitter (random), a non-ASCII host name (idna), a failed
# render's template line (traceback).
_NOT_RUN_BY_A_ONESHOT = {
    "ctypes",
    "difflib",
    "decimal",
    "random",
    "encodings.idna",
    "stringprep",
    "traceback",
}
_JINJA = {"jinja2", "markupsafe", "confpy.render.jinja_env"}
_GO_ENGINE = {"confpy.gotemplate.engine", "confpy.gotemplate.goexec", "confpy.gotemplate.goparse"}


@pytest.fixture
def tree(tmp_path: Path) -> ConfTree:
    tree = ConfTree(tmp_path)
    tree.template("app.tmpl", 'host={{getv "/app/host"}}\n')
    tree.resource("app", '[template]\nsrc = "app.tmpl"\ndest = "{out}/app"\nkeys = ["/app"]\n')
    return tree


def test_help_loads_no_template_engine_logging_or_network(
    confpy_offline: Confpy, tmp_path: Path
) -> None:
    """`confpy --help` needs argparse and the command modules, nothing more."""
    modules = loaded_modules(confpy_offline, tmp_path, "--help")
    heavy = {"jinja2", "structlog", "confpy.render.templates", "confpy.gotemplate"}
    assert present(modules, heavy | _SERVER_AND_EXTRAS | NETWORK) == set()


def test_version_loads_nothing_but_the_cli(confpy_offline: Confpy, tmp_path: Path) -> None:
    """`confpy --version` costs the interpreter's start: beyond what `python -c pass`
    loads, only confpy, its cli and errors (no argparse, typing or command modules)."""
    modules = loaded_modules(confpy_offline, tmp_path, "--version")
    extra = modules - interpreter_modules(confpy_offline, tmp_path)
    assert extra == {"confpy", "confpy.cli", "confpy.errors"}


def test_confd_version_loads_nothing_but_the_cli_and_the_confd_command(
    confpy_offline: Confpy, tmp_path: Path
) -> None:
    """`confpy confd -version` prints before the flag table (and Go's flag parser) load."""
    modules = loaded_modules(confpy_offline, tmp_path, "confd", "-version")
    extra = modules - interpreter_modules(confpy_offline, tmp_path)
    assert extra == {"confpy", "confpy.cli", "confpy.errors", "confpy.commands"} | {
        "confpy.commands.confd"
    }


def test_help_loads_no_settings_or_dataclasses(confpy_offline: Confpy, tmp_path: Path) -> None:
    """`confpy --help` builds every parser and reads no settings nor logs: no dataclasses, inspect,
    tomllib or urllib.parse (which the interpreter may load itself, so only if it did not)."""
    modules = loaded_modules(confpy_offline, tmp_path, "--help")
    extra = modules - interpreter_modules(confpy_offline, tmp_path)
    assert present(extra, _SETTINGS | {"confpy.config.keys", "confpy.log"}) == set()


def test_confd_help_loads_no_dataclasses_or_toml(confpy_offline: Confpy, tmp_path: Path) -> None:
    """`confpy confd -help` prints the flag table: no dataclasses, tomllib, settings, store."""
    modules = loaded_modules(confpy_offline, tmp_path, "confd", "-help")
    extra = modules - interpreter_modules(confpy_offline, tmp_path)
    assert present(extra, _SETTINGS | NETWORK | {"confpy.log", "confpy.apply.runner"}) == set()


def test_check_loads_no_network_and_no_logging(
    confpy_offline: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """`confpy check` compiles templates offline: no etcd client, no structlog."""
    modules = loaded_modules(confpy_offline, tmp_path, "check", "--confdir", str(tree.confdir))
    assert "confpy.gotemplate.engine" in modules  # it did compile (a Go template)
    assert present(modules, {"structlog"} | _SERVER_AND_EXTRAS | NETWORK) == set()


@pytest.mark.etcd
def test_onetime_with_current_files_loads_no_server_and_no_logging(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """A repeated `render --onetime` (files current, nothing to log) over http:// stays lean:
    no TLS module, no server, no structlog."""
    etcdctl_put(confpy, "/app/host", "db1")
    render = ("render", "--onetime", "--confdir", str(tree.confdir))
    first = confpy.run(*render)
    assert first.returncode == 0, first.stderr
    modules = loaded_modules(confpy, tmp_path, *render)
    assert present(modules, {"structlog", "ssl"} | _SERVER_AND_EXTRAS) == set()


@pytest.mark.etcd
def test_a_go_onetime_loads_no_jinja(confpy: Confpy, tree: ConfTree, tmp_path: Path) -> None:
    """Every template is Go's: Jinja (jinja2, markupsafe, the environment) stays unloaded."""
    etcdctl_put(confpy, "/app/host", "db1")
    render = ("render", "--onetime", "--confdir", str(tree.confdir))
    modules = loaded_modules(confpy, tmp_path, *render)
    assert (tree.out / "app").read_text() == "host=db1\n"
    assert "confpy.gotemplate.engine" in modules
    assert present(modules, _JINJA) == set()


@pytest.mark.etcd
def test_a_jinja_onetime_loads_no_go_engine(confpy: Confpy, tmp_path: Path) -> None:
    """Every template is Jinja's: the Go engine (lexer, parser, executor) stays unloaded."""
    etcdctl_put(confpy, "/app/host", "db1")
    tree = ConfTree(tmp_path)
    tree.template("app.j2", "host={{ getv('/app/host') }}\n")
    tree.resource("app", '[template]\nsrc = "app.j2"\ndest = "{out}/app"\nkeys = ["/app"]\n')
    modules = loaded_modules(
        confpy, tmp_path, "render", "--onetime", "--confdir", str(tree.confdir)
    )
    assert (tree.out / "app").read_text() == "host=db1\n"
    assert "jinja2" in modules
    assert present(modules, _GO_ENGINE) == set()


@pytest.mark.etcd
def test_a_first_onetime_loads_only_what_it_runs(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """A first `render --onetime` over http:// (it writes the file): no TLS, and none of the
    modules only other paths run (subreaper, diffs, Decimal, jitter, the idna codec)."""
    etcdctl_put(confpy, "/app/host", "db1")
    render = ("render", "--onetime", "--confdir", str(tree.confdir))
    modules = loaded_modules(confpy, tmp_path, *render)
    assert (tree.out / "app").exists()
    assert present(modules, {"ssl", *_NOT_RUN_BY_A_ONESHOT}) == set()


@pytest.mark.etcd
def test_onetime_never_loads_grpc_or_protobuf(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """The etcd client is the standard library: no grpc, protobuf or etcd3, ever."""
    etcdctl_put(confpy, "/app/host", "db1")
    modules = loaded_modules(
        confpy, tmp_path, "render", "--onetime", "--confdir", str(tree.confdir)
    )
    assert present(modules, GRPC) == set()


@pytest.mark.etcd
def test_a_watch_daemon_without_health_loads_no_server_tls_or_structlog(
    confpy: Confpy, tree: ConfTree, tmp_path: Path
) -> None:
    """`render --watch` logging JSON lines, without --health-addr, stays small for fleets:
    no HTTP server (http.server brings ssl and email), no structlog (asyncio, ssl)."""
    etcdctl_put(confpy, "/app/host", "db1")
    out = tmp_path / "modules.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PROBE,
            str(out),
            "render",
            "--watch",
            "--confdir",
            str(tree.confdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=confpy.env(),
        cwd=ROOT,
    )
    try:
        wait_for(lambda: (tree.out / "app").exists(), what="first render")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert b'"event": "watching"' in stderr  # it did log, at info
    modules = set(json.loads(out.read_text()))
    assert present(modules, {"structlog", "ssl", "http.server", "asyncio", *GRPC}) == set()
