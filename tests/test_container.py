"""confpy in a real container: the top-level Dockerfile built, and `confpy exec` run as PID 1.

Opt-in, because it builds an image: `make test-container` sets CONFPY_TEST_CONTAINER=1.
Plain `make test` skips every test here, and so does a machine without podman or a
working docker.

The image is built from the repository's Dockerfile and run with the host's network, so
the container reaches the test's etcd on loopback. The child is a small Python program
(CHILD below) that writes what happens to it into a mounted directory.

Settings, for machines that need them (this one has no image registry):
  CONFPY_CONTAINER_BASE     base image (the Dockerfile's BASE). Default: with podman,
                            debootstrap and root, a Debian bookworm image built once with
                            `debootstrap --variant=minbase` (rootfs cached in
                            ~/.cache/confpy/bookworm-minbase) and `podman import`ed; else
                            the Dockerfile's default (an official slim Python image).
  CONFPY_CONTAINER_RUNTIME  podman's OCI runtime; default runc when installed.
  PIP_CERT                  a CA bundle pip inside the build needs (a TLS-intercepting
                            proxy), passed as the build secret `pip-ca`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from confpy.store import EtcdStore
from tests.conftest import ROOT, wait_for

IMAGE = "localhost/confpy:test"
LOCAL_BASE = "localhost/confpy-base:bookworm"
ROOTFS_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "confpy" / "bookworm-minbase"
)
# The sandbox this was written in refuses higher limits than these; they suit any machine.
RUN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
EXIT_ON_TERM = 42

CHILD = """\
import signal, subprocess, sys

def log(line):
    with open("/out/events.log", "a") as f:
        f.write(line + "\\n")

def config():
    with open("/out/app.conf") as f:
        return f.read().strip()

signal.signal(signal.SIGHUP, lambda *_: log("reloaded: " + config()))
signal.signal(signal.SIGTERM, lambda *_: (log("SIGTERM"), sys.exit(EXIT_ON_TERM)))
log("started: " + config())
# An orphan for PID 1 to reap: sh exits at once, the sleep it started outlives it.
orphan = subprocess.run(["sh", "-c", "sleep 3 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
log("orphan: " + orphan.stdout.strip())
while True:
    signal.pause()
""".replace("EXIT_ON_TERM", str(EXIT_ON_TERM))


def _engine() -> list[str] | None:
    """The container engine's command line prefix, or None when there is none that works."""
    if shutil.which("podman"):
        runtime = os.environ.get("CONFPY_CONTAINER_RUNTIME") or (
            "runc" if shutil.which("runc") else ""
        )
        return ["podman", *(["--runtime", runtime] if runtime else [])]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker"]
    return None


# The first test's fixtures build the image (base layers, pip install): minutes on a cold cache.
pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]
if os.environ.get("CONFPY_TEST_CONTAINER") != "1":
    pytest.skip("builds an image: opt in with `make test-container`", allow_module_level=True)
ENGINE = _engine()
if ENGINE is None:
    pytest.skip(
        "no container engine: install podman (or run a docker daemon) for `make test-container`",
        allow_module_level=True,
    )


def engine(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert ENGINE is not None
    result = subprocess.run([*ENGINE, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args[:2])} exited {result.returncode}: {result.stderr[-2000:]}"
        )
    return result


def _base_image() -> str | None:
    """The BASE build argument: an override, a local debootstrap image, or the Dockerfile's default."""
    if os.environ.get("CONFPY_CONTAINER_BASE"):
        return os.environ["CONFPY_CONTAINER_BASE"]
    assert ENGINE is not None
    if ENGINE[0] != "podman" or not shutil.which("debootstrap") or os.geteuid() != 0:
        return None
    if engine("image", "exists", LOCAL_BASE, check=False).returncode == 0:
        return LOCAL_BASE
    if not (ROOTFS_CACHE / "usr" / "bin" / "python3").exists():
        partial = ROOTFS_CACHE.with_name(ROOTFS_CACHE.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv",
                "bookworm",
                str(partial),
            ],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        partial.rename(ROOTFS_CACHE)
    tar = subprocess.Popen(["tar", "-C", str(ROOTFS_CACHE), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        [*ENGINE, "import", "-", LOCAL_BASE],
        stdin=tar.stdout,
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert tar.wait() == 0
    return LOCAL_BASE


@pytest.fixture(scope="module")
def image() -> str:
    """The top-level Dockerfile, built (layers are cached between runs)."""
    args = ["build", "--network", "host", *RUN_LIMITS, "-t", IMAGE]
    base = _base_image()
    if base:
        args += ["--build-arg", f"BASE={base}"]
    if os.environ.get("PIP_CERT"):
        args += ["--secret", f"id=pip-ca,src={os.environ['PIP_CERT']}"]
    engine(*args, str(ROOT), timeout=1800)
    return IMAGE


@dataclass
class Container:
    name: str
    out: Path

    def events(self) -> list[str]:
        path = self.out / "events.log"
        return path.read_text().splitlines() if path.exists() else []

    def exec(self, *argv: str) -> str:
        return engine("exec", self.name, *argv).stdout


@pytest.fixture
def container(image: str, etcd: str, store: EtcdStore, tmp_path: Path) -> Iterator[Container]:
    """`confpy exec -- python3 /child.py` running in the image, rendering from the test's etcd."""
    confdir, out = tmp_path / "confdir", tmp_path / "out"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates").mkdir()
    (confdir / "conf.d" / "app.toml").write_text(
        '[template]\nsrc = "app.conf.j2"\ndest = "/out/app.conf"\nkeys = ["/app"]\n'
    )
    (confdir / "templates" / "app.conf.j2").write_text('greeting = {{ getv("/app/greeting") }}\n')
    (tmp_path / "child.py").write_text(CHILD)
    out.mkdir()
    out.chmod(0o777)  # the image's user (uid 10001) writes here
    store.put("/app/greeting", b"hello")
    name = f"confpy-test-{uuid.uuid4().hex[:8]}"
    engine(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        *RUN_LIMITS,
        "--env",
        f"CONFPY_ENDPOINTS={etcd}",
        "--volume",
        f"{confdir}:/etc/confpy:ro",
        "--volume",
        f"{tmp_path / 'child.py'}:/child.py:ro",
        "--volume",
        f"{out}:/out",
        image,
        "python3",
        "/child.py",
    )
    running = Container(name, out)

    def child_started() -> bool:
        if any(e.startswith("orphan: ") for e in running.events()):
            return True
        state = engine(
            "inspect", "--format", "{{.State.Running}}", name, check=False
        ).stdout.strip()
        if state == "false":  # fail at once, with confpy's own words
            logs = engine("logs", name, check=False)
            raise AssertionError("the container exited: " + (logs.stdout + logs.stderr)[-3000:])
        return False

    try:
        wait_for(child_started, timeout=60, what="the child to start in the container")
        yield running
    finally:
        engine("rm", "--force", name, check=False)


def test_confpy_exec_is_pid_1(container: Container) -> None:
    """The image's entrypoint makes `confpy exec` the container's first process."""
    argv = container.exec("cat", "/proc/1/cmdline").split("\0")
    assert argv[1].endswith("/confpy") and argv[2] == "exec", argv


def test_runs_as_a_non_root_user(container: Container) -> None:
    """confpy and its child run as the image's unprivileged user."""
    status = container.exec("cat", "/proc/1/status")
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1] == "10001"


def test_child_starts_with_the_file_rendered_from_the_hosts_etcd(container: Container) -> None:
    """The first render, from the etcd on the host, is in place before the child starts."""
    assert container.events()[0] == "started: greeting = hello"


def test_a_change_in_etcd_reloads_the_child(container: Container, store: EtcdStore) -> None:
    """A new value is rendered and the child gets SIGHUP to read it."""
    store.put("/app/greeting", b"bonjour")
    wait_for(
        lambda: "reloaded: greeting = bonjour" in container.events(),
        timeout=30,
        what="the child's reload",
    )


def test_an_orphan_reparented_to_pid_1_is_reaped(container: Container) -> None:
    """A grandchild whose parent died becomes PID 1's, and PID 1 reaps it: no zombie."""
    orphan = next(e for e in container.events() if e.startswith("orphan: ")).split()[1]

    def parent_and_state() -> tuple[str, str] | None:
        result = engine("exec", container.name, "cat", f"/proc/{orphan}/stat", check=False)
        if result.returncode != 0:
            return None
        fields = result.stdout.rsplit(")", 1)[1].split()
        return fields[1], fields[0]

    seen = parent_and_state()
    assert seen is not None and seen[0] == "1", f"the orphan {orphan} is not PID 1's child: {seen}"
    wait_for(
        lambda: parent_and_state() is None, timeout=30, what=f"the orphan {orphan} to be reaped"
    )
    states = container.exec("sh", "-c", "cat /proc/[0-9]*/stat")
    assert ") Z " not in states, states


def test_stop_reaches_the_child_and_its_exit_code_is_the_containers(container: Container) -> None:
    """`stop` sends SIGTERM to PID 1, which passes it to the child and exits with its code."""
    engine("stop", "--time", "20", container.name, timeout=60)
    assert container.events()[-1] == "SIGTERM"
    code = engine("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout.strip()
    assert code == str(EXIT_ON_TERM)


def test_image_holds_no_pip_or_build_tools(image: str) -> None:
    """The runtime stage has the installed environment only: no pip, no compiler."""
    result = engine(
        "run",
        "--rm",
        *RUN_LIMITS,
        "--entrypoint",
        "sh",
        image,
        "-c",
        "command -v pip pip3 gcc cc; ls /opt/confpy/bin",
        check=False,
    )
    assert "confpy" in result.stdout.split()
    assert not [line for line in result.stdout.splitlines() if line.startswith("/")], result.stdout


def test_forwarder_image_builds_from_the_confpy_image_and_its_confdir_loads(
    image: str, tmp_path: Path
) -> None:
    """units/Dockerfile.forwarder builds on the confpy image; `confpy check` accepts its CONFDIR.

    The context holds what the Dockerfile copies: templates/app and a stand-in for the
    logstash-forwarder binary, which is not part of this repository.
    """
    shutil.copytree(ROOT / "templates" / "app", tmp_path / "templates" / "app")
    stub = tmp_path / "logstash-forwarder"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    tag = "localhost/confpy-forwarder:test"
    engine(
        "build",
        "--network",
        "host",
        *RUN_LIMITS,
        "-f",
        str(ROOT / "units" / "Dockerfile.forwarder"),
        "--build-arg",
        f"CONFPY_IMAGE={image}",
        "-t",
        tag,
        str(tmp_path),
        timeout=900,
    )
    result = engine("run", "--rm", *RUN_LIMITS, "--entrypoint", "confpy", tag, "check")
    assert result.stdout.startswith("3 resources OK in /etc/confpy"), result.stdout
