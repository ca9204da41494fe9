"""The logging-stack scenario, told in ten steps; each step is one function below.

Every step uses the `confpy` command as an operator would, with real processes, real files
and a real TLS handshake, and fails the demo (a ConfpyError) unless what it narrates really
happened. State that later steps need lives on `Demo`.
"""

from __future__ import annotations

import difflib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confpy.demo.scene import (
    Scene,
    event_summary,
    heading,
    healthz,
    lines_of,
    prepare_confdir,
    say,
    scenario_path,
    show,
    wait_until,
)
from confpy.errors import ConfpyError
from confpy.testing.etcd import EtcdServer, free_port


@dataclass
class Demo:
    """One run: its directories, its etcd, its processes, and what steps hand on."""

    work: Path
    server: EtcdServer
    scene: Scene
    out: Path
    logstash_dir: Path
    logstash_dests: dict[str, Path]
    reloads: Path
    app_dir: Path
    app_dests: dict[str, Path]
    rotate: list[str] = field(default_factory=list)
    waiting: subprocess.Popen[bytes] | None = None
    elasticsearch: subprocess.Popen[bytes] | None = None
    forwarder_log: Path = Path()
    first_handshake: str = ""


def run_demo(*, keep: bool = False) -> int:
    """Play every step on a throwaway etcd in a temporary directory; 0 when all happened."""
    templates = scenario_path("templates")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="confpy-demo-"))
    server = EtcdServer(work / "etcd" / "data")
    scene: Scene | None = None
    try:
        heading(1, "Start a throwaway etcd")
        server.start()
        scene = Scene(work, server.url)
        demo = _set_stage(work, server, scene, templates)
        for number, (title, play) in enumerate(STEPS, start=2):
            heading(number, title)
            play(demo)
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


def _set_stage(work: Path, server: EtcdServer, scene: Scene, templates: Path) -> Demo:
    out = work / "root"
    # The templates read their SSL directories from the environment (getenv), with the
    # real paths as defaults; the demo points them into its own tree.
    scene.env["LOGSTASH_SSL_DIR"] = str(out / "etc" / "logstash" / "ssl")
    scene.env["FORWARDER_SSL_DIR"] = str(out / "opt" / "logstash" / "ssl")
    say(f"etcd is listening on {server.url}; everything below happens in {work}.")
    say(f"Destinations that would be /etc/... and /opt/... on real hosts live under {out} here.")
    reloads = work / "logstash-reloads.log"
    logstash_dir, app_dir = work / "logstash-confdir", work / "app-confdir"
    return Demo(
        work=work,
        server=server,
        scene=scene,
        out=out,
        logstash_dir=logstash_dir,
        logstash_dests=prepare_confdir(
            templates / "logstash",
            logstash_dir,
            out,
            reload_cmd=f"echo logstash reloaded >> {reloads}",
        ),
        reloads=reloads,
        app_dir=app_dir,
        app_dests=prepare_confdir(templates / "app", app_dir, out),
    )


def logstash_waits_for_elasticsearch(d: Demo) -> None:
    say(
        "logstash.service runs `confpy render --onetime --wait-for-keys 60s` in "
        "ExecStartPre=, instead of looping `until confd -onetime; do sleep 5; done`."
    )
    log = d.work / "logstash-render.log"
    d.waiting = d.scene.confpy(
        "render", "--onetime", "--confdir", str(d.logstash_dir), "--wait-for-keys", "60s",
        log=log.name,
    )  # fmt: skip
    wait_until(
        lambda: "waiting for keys" in log.read_text(),
        20,
        "the onetime render to report the missing key",
    )
    missing = [line for line in lines_of(log) if "waiting" in line]
    say("It is waiting; its log says: " + event_summary(missing[-1]))


def elasticsearch_registers(d: Demo) -> None:
    say(
        "elasticsearch.service wraps the server: `confpy register /elasticsearch/host "
        "127.0.0.1 --ttl 10 -- elasticsearch`. The key lives as long as the service."
    )
    d.elasticsearch = d.scene.register(
        "/elasticsearch/host", "127.0.0.1", "sleeper", log="elasticsearch.log"
    )
    assert d.waiting is not None
    code = d.waiting.wait(timeout=60)
    if code != 0:
        raise ConfpyError(f"demo: the onetime render exited {code}")
    say(f"The waiting render saw the key and exited {code}; logstash.conf is in place:")
    conf = d.logstash_dests["logstash"]
    show(str(conf), conf.read_text())


def logstash_publishes_a_keypair(d: Demo) -> None:
    ssl_dir = _logstash_ssl(d)
    d.rotate = [
        "tls", "rotate", "--prefix", "/logstash", "--cn", "logstash",
        "--san", "IP:127.0.0.1", "--san", "DNS:localhost", "--days", "30",
        "--cert-out", str(ssl_dir / "logstash.crt"), "--key-out", str(ssl_dir / "logstash.key"),
    ]  # fmt: skip
    ssl_dir.mkdir(parents=True, exist_ok=True)
    say(
        "Instead of `openssl req ...` and two `curl -XPUT`s: `confpy "
        + shlex.join(d.rotate[:10])
        + " ...`"
    )
    result = d.scene.run(*d.rotate)
    if result.returncode != 0:
        raise ConfpyError(f"demo: tls rotate failed: {result.stderr.strip()[-300:]}")
    shown = d.scene.run("tls", "show", "--prefix", "/logstash")
    show("confpy tls show --prefix /logstash", shown.stdout)


def logstash_registers(d: Demo) -> None:
    ssl_dir = _logstash_ssl(d)
    port = free_port()
    log = d.work / "logstash-service.log"
    d.scene.put("/logstash/port", str(port))
    d.scene.register(
        "/logstash/host", "127.0.0.1",
        "logstash", str(port), str(ssl_dir / "logstash.crt"), str(ssl_dir / "logstash.key"),
        str(log), log="logstash-register.log",
    )  # fmt: skip
    wait_until(lambda: any("listening" in x for x in lines_of(log)), 20, "logstash")
    say(
        f"A stand-in Logstash serves TLS on 127.0.0.1:{port} with the rotated pair, and "
        "/logstash/host, /logstash/port are published."
    )


def forwarder_starts_under_exec(d: Demo) -> None:
    d.forwarder_log = d.work / "forwarder.log"
    config = d.app_dests["logstash-forwarder"]
    say(
        'ENTRYPOINT ["confpy", "exec", "--wait-for-keys", "5m", "--"] renders the '
        "forwarder's JSON config, certificate and key (0600), then starts the forwarder "
        "and sends it SIGHUP whenever a change set has installed files."
    )
    d.scene.confpy(
        "exec", "--confdir", str(d.app_dir), "--wait-for-keys", "60s", "--reload-signal", "HUP",
        "--", sys.executable, "-m", "confpy.demo.services", "forwarder", str(config),
        str(d.forwarder_log), log="app-exec.log",
    )  # fmt: skip
    first = wait_until(
        lambda: [x for x in lines_of(d.forwarder_log) if "handshake" in x],
        30,
        "the forwarder's first handshake",
    )
    d.first_handshake = first[0]
    show(str(config), config.read_text())
    key_file = d.app_dests["forwarder-key"]
    say(f"{key_file.name} has mode {oct(key_file.stat().st_mode & 0o777)}.")


def forwarder_handshakes(d: Demo) -> None:
    say(
        "The forwarder trusts only the certificate it rendered from etcd and presents "
        "the rendered key: " + d.first_handshake.split(", reply")[0]
    )
    if "handshake ok" not in d.first_handshake:
        raise ConfpyError("demo: the TLS handshake failed")


def daemon_follows_elasticsearch(d: Demo) -> None:
    conf = d.logstash_dests["logstash"]
    reloads_before = len(lines_of(d.reloads))
    health = f"127.0.0.1:{free_port()}"
    d.scene.confpy(
        "render", "--watch", "--confdir", str(d.logstash_dir), "--health-addr", health,
        log="logstash-watch.log",
    )  # fmt: skip
    watch_log = d.work / "logstash-watch.log"
    status = wait_until(lambda: healthz(health), 20, "the daemon to report healthy")
    old = conf.read_text()
    say(
        f"`confpy render --watch --health-addr {health}` (confpy.service) is running; "
        f"/healthz says {status}"
    )
    say(
        "Elasticsearch stops on this host: its registration is revoked at once, and the "
        "daemon keeps the last good logstash.conf while the key is missing."
    )
    assert d.elasticsearch is not None
    d.elasticsearch.send_signal(signal.SIGTERM)
    d.elasticsearch.wait(timeout=20)
    wait_until(
        lambda: "key not found: /elasticsearch/host" in watch_log.read_text(),
        20,
        "the daemon to notice the missing key",
    )
    say("It comes back on another host, which registers 10.0.0.9:")
    d.scene.register("/elasticsearch/host", "10.0.0.9", "sleeper", log="elasticsearch-2.log")
    wait_until(lambda: "10.0.0.9" in conf.read_text(), 20, "the daemon to install the change")
    wait_until(lambda: len(lines_of(d.reloads)) > reloads_before, 20, "the reload")
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        conf.read_text().splitlines(keepends=True),
        "logstash.conf (before)",
        "logstash.conf (after)",
        n=1,
    )
    show("the change the daemon installed", "".join(diff))
    say(
        f"... and it ran the reload command {len(lines_of(d.reloads)) - reloads_before} "
        "time(s), after the file was in place."
    )


def second_rotation_reloads_the_forwarder_once(d: Demo) -> None:
    def reloads() -> int:
        return len([x for x in lines_of(d.forwarder_log) if x.startswith("reload")])

    def handshakes() -> list[str]:
        return [x for x in lines_of(d.forwarder_log) if "handshake" in x]

    before = reloads()
    result = d.scene.run(*d.rotate)
    if result.returncode != 0:
        raise ConfpyError(f"demo: second rotation failed: {result.stderr.strip()[-300:]}")
    wait_until(lambda: len(handshakes()) >= 2, 30, "the forwarder's handshake with the new pair")
    time.sleep(0.5)  # let any extra (wrong) reload show up before counting
    after, last = reloads(), handshakes()[-1]
    say(
        f"Certificate and key changed in one etcd transaction; the forwarder got "
        f"{after - before} SIGHUP and reconnected: {last.split(', reply')[0]}"
    )
    if "handshake ok" not in last or after - before != 1:
        raise ConfpyError("demo: the second rotation did not give exactly one good reload")


def clean_up(d: Demo) -> None:
    d.scene.stop_all()
    left = [k for k in ("/elasticsearch/host", "/logstash/host") if d.scene.get(k)]
    if left:
        raise ConfpyError(f"demo: registered keys still in etcd after stop: {left}")
    say(
        "Every service stopped; `confpy register` revoked its leases, so "
        "/elasticsearch/host and /logstash/host are gone from etcd (checked)."
    )


def _logstash_ssl(d: Demo) -> Path:
    return d.out / "etc" / "logstash" / "ssl"


STEPS: tuple[tuple[str, Callable[[Demo], None]], ...] = (
    ("Logstash boots first and waits for Elasticsearch", logstash_waits_for_elasticsearch),
    ("Elasticsearch registers its address under a lease", elasticsearch_registers),
    (
        "Logstash generates a TLS keypair and publishes it in one transaction",
        logstash_publishes_a_keypair,
    ),
    ("Logstash starts and registers its address", logstash_registers),
    ("An app container starts its forwarder under `confpy exec`", forwarder_starts_under_exec),
    ("A real TLS handshake with the rendered files", forwarder_handshakes),
    ("The watch daemon follows Elasticsearch to a new address", daemon_follows_elasticsearch),
    (
        "A second rotation reaches the forwarder with one reload",
        second_rotation_reloads_the_forwarder_once,
    ),
    ("Clean up", clean_up),
)
"""Steps 2 to 10, in order (step 1 starts etcd)."""
