"""The logging-stack scenario end to end: real etcd, real files, real processes, real TLS.

`confpy demo` is the scenario: it fails unless every step it narrates really happened
(it checks files, handshakes, reload counts and etcd after each step).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# The module's fixture runs the whole demo once, in the first test's setup.
pytestmark = [pytest.mark.etcd, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confpy", "demo"], capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def demo(run: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The run with its narration unwrapped (it is filled to 88 columns)."""
    stdout = "\n".join(
        line if line.lstrip().startswith(("|", "---")) else " ".join(line.split())
        for line in run.stdout.splitlines()
    )
    prose = " ".join(line for line in stdout.splitlines() if not line.lstrip().startswith("|"))
    return subprocess.CompletedProcess(run.args, run.returncode, stdout + "\n" + prose, run.stderr)


def test_demo_completes_with_exit_0(demo: subprocess.CompletedProcess[str]) -> None:
    """Every step of the scenario succeeds."""
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Traceback" not in demo.stderr


def test_onetime_render_waits_for_elasticsearch_then_proceeds(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Logstash's render reports the missing key, then exits 0 once Elasticsearch registers."""
    assert "waiting for keys ['/elasticsearch/host']" in demo.stdout
    assert "The waiting render saw the key and exited 0" in demo.stdout


def test_published_pair_matches_and_forwarder_handshakes(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """The rotated key matches its certificate; the forwarder's TLS handshake with the rendered files succeeds."""
    assert "matches the certificate" in demo.stdout
    assert "presents the rendered key: handshake ok with 127.0.0.1" in demo.stdout


def test_daemon_follows_elasticsearch_with_a_diff_and_one_reload(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """The watch daemon keeps the old file while the key is gone, then installs the new host once."""
    assert '+    hosts => ["10.0.0.9:9200"]' in demo.stdout
    assert "it ran the reload command 1 time(s)" in demo.stdout


def test_second_rotation_gives_the_forwarder_exactly_one_reload(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Certificate and key change together and the forwarder is signalled once."""
    assert "the forwarder got 1 SIGHUP and reconnected: handshake ok" in demo.stdout


def test_leases_are_revoked_when_services_stop(demo: subprocess.CompletedProcess[str]) -> None:
    """Stopping the registered services removes their keys from etcd at once."""
    assert "are gone from etcd (checked)" in demo.stdout
