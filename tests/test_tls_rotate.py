"""`confpy tls rotate` and `tls show` against a real etcd: publishing, races, handshakes, files."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import threading

import pytest

from confpy.config.settings import load_settings
from confpy.errors import ConflictError
from confpy.store import EtcdStore
from confpy.tls import keypairs as tls
from confpy.tls.rotate import RotateOptions, issue, publish, rotate
from tests.conftest import wait_for
from tests.handshake import handshake
from tests.helpers import signal_another_thread
from tests.pki import build_ca

pytestmark = pytest.mark.etcd

CERT = "/logstash/ssl_certificate"
KEY = "/logstash/ssl_private_key"
ROTATE = (
    "tls",
    "rotate",
    "--prefix",
    "/logstash",
    "--cn",
    "logstash",
    "--san",
    "IP:127.0.0.1",
    "--san",
    "DNS:logstash.internal",
)


def published(store: EtcdStore, cert_key: str = CERT, key_key: str = KEY):
    cert_pem, cert_rev = store.get(cert_key)
    key_pem, key_rev = store.get(key_key)
    return cert_pem, cert_rev, key_pem, key_rev


def assert_matching_pair(store: EtcdStore) -> None:
    # One snapshot read: two gets could straddle another rotator's transaction.
    values = store.snapshot([CERT, KEY]).values
    cert_pem, key_pem = values.get(CERT), values.get(KEY)
    assert cert_pem is not None and key_pem is not None
    assert tls.key_matches_cert(tls.load_key(key_pem), tls.load_certificate(cert_pem))


def new_store(url: str) -> EtcdStore:
    return EtcdStore(load_settings({"endpoints": url, "confdir": "/nonexistent"}, {}))


def opts(**changes: object) -> RotateOptions:
    base: dict[str, object] = {
        "prefix": "/logstash",
        "common_name": "logstash",
        "sans": ("IP:127.0.0.1",),
        "key_type": "ec-p256",
    }
    base.update(changes)
    return RotateOptions(**base)  # type: ignore[arg-type]


def test_rotate_publishes_certificate_matching_key_with_sans_and_validity(confpy, store) -> None:
    """The published certificate parses, matches the key, and has the SANs and days asked."""
    result = confpy.run(*ROTATE, "--days", "30")
    assert result.returncode == 0, result.stderr
    cert_pem, _, key_pem, _ = published(store)
    cert = tls.load_certificate(cert_pem)
    assert tls.key_matches_cert(tls.load_key(key_pem), cert)
    info = tls.inspect(cert)
    assert info.common_name == "logstash"
    assert set(info.sans) == {"IP:127.0.0.1", "DNS:logstash.internal"}
    expected_end = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert abs((info.not_after - expected_end).total_seconds()) < 120
    assert info.key_type == "rsa2048"


def test_certificate_and_key_have_the_same_mod_revision(confpy, store) -> None:
    """Certificate and key are written in one transaction: one revision."""
    assert confpy.run(*ROTATE).returncode == 0
    _, cert_rev, _, key_rev = published(store)
    assert cert_rev == key_rev > 0


def test_published_pair_completes_a_real_tls_handshake(confpy, store, tmp_path) -> None:
    """Server with the published files, client trusting only the published cert: hostname OK."""
    assert confpy.run(*ROTATE, "--key-type", "ec-p256").returncode == 0
    cert_pem, _, key_pem, _ = published(store)
    assert handshake(tmp_path, cert_pem, key_pem, cert_pem, "logstash.internal")
    assert handshake(tmp_path, cert_pem, key_pem, cert_pem, "127.0.0.1")


def test_ca_prefix_signs_leaf_and_chain_verifies_against_ca_only(confpy, store, tmp_path) -> None:
    """With --ca-prefix the published chain is leaf+CA and handshakes trusting only the CA."""
    ca_key = tls.generate_key("ec-p256")
    ca = build_ca(ca_key, "Test CA")
    store.put("/pki/ca/ssl_certificate", tls.cert_to_pem(ca))
    store.put("/pki/ca/ssl_private_key", tls.key_to_pem(ca_key))
    result = confpy.run(*ROTATE, "--ca-prefix", "/pki/ca")
    assert result.returncode == 0, result.stderr
    cert_pem, _, key_pem, _ = published(store)
    chain = tls.load_chain(cert_pem)
    assert len(chain) == 2 and chain[1] == ca
    assert tls.is_issued_by(chain[0], ca)
    assert handshake(tmp_path, cert_pem, key_pem, tls.cert_to_pem(ca), "logstash.internal")


def test_ca_files_sign_the_leaf(confpy, store, tmp_path) -> None:
    """--ca-cert/--ca-key files sign the leaf instead of self-signing."""
    ca_key = tls.generate_key("rsa2048")
    ca = build_ca(ca_key, "File CA")
    (tmp_path / "ca.crt").write_bytes(tls.cert_to_pem(ca))
    (tmp_path / "ca.key").write_bytes(tls.key_to_pem(ca_key))
    result = confpy.run(
        *ROTATE, "--ca-cert", str(tmp_path / "ca.crt"), "--ca-key", str(tmp_path / "ca.key")
    )
    assert result.returncode == 0, result.stderr
    cert_pem, _, _, _ = published(store)
    assert tls.inspect(tls.load_certificate(cert_pem)).issuer == "CN=File CA"


def test_leaf_is_refused_as_ca(confpy, store, tmp_path) -> None:
    """A CA:false certificate given as --ca-cert is refused with exit 2 and nothing written."""
    key = tls.generate_key("ec-p256")
    leaf = tls.build_certificate(key, "not-a-ca")
    (tmp_path / "ca.crt").write_bytes(tls.cert_to_pem(leaf))
    (tmp_path / "ca.key").write_bytes(tls.key_to_pem(key))
    result = confpy.run(
        *ROTATE, "--ca-cert", str(tmp_path / "ca.crt"), "--ca-key", str(tmp_path / "ca.key")
    )
    assert result.returncode == 2
    assert "not a CA" in result.stderr
    assert store.get(CERT)[0] is None


def test_key_pem_never_appears_in_stderr_or_stdout(confpy, store, tmp_path) -> None:
    """Neither logs (debug level) nor output contain any line of the private key."""
    env = confpy.env(CONFPY_LOG_LEVEL="debug")
    result = confpy.run(*ROTATE, "--key-out", str(tmp_path / "k.pem"), env=env)
    assert result.returncode == 0, result.stderr
    _, _, key_pem, _ = published(store)
    output = result.stdout + result.stderr
    assert "PRIVATE KEY" not in output
    body = [line for line in key_pem.decode().splitlines() if "-----" not in line]
    assert body and not any(line in output for line in body)
    assert result.stderr  # the logs were captured, so the check above was meaningful


def test_key_out_is_created_mode_0600_and_cert_out_matches(confpy, store, tmp_path) -> None:
    """--key-out is a 0600 file, --cert-out holds the published certificate."""
    key_out, cert_out = tmp_path / "tls.key", tmp_path / "tls.crt"
    result = confpy.run(*ROTATE, "--key-out", str(key_out), "--cert-out", str(cert_out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_out.stat().st_mode) == 0o600
    cert_pem, _, key_pem, _ = published(store)
    assert key_out.read_bytes() == key_pem
    assert cert_out.read_bytes() == cert_pem
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_no_publish_key_keeps_key_local(confpy, store, tmp_path) -> None:
    """--no-publish-key publishes only the certificate; the local 0600 key matches it."""
    key_out = tmp_path / "tls.key"
    result = confpy.run(*ROTATE, "--no-publish-key", "--key-out", str(key_out))
    assert result.returncode == 0, result.stderr
    cert_pem, _, key_pem, _ = published(store)
    assert key_pem is None
    assert stat.S_IMODE(key_out.stat().st_mode) == 0o600
    assert tls.key_matches_cert(tls.load_key(key_out.read_bytes()), tls.load_certificate(cert_pem))


def test_switching_to_certificate_only_removes_the_old_key_in_the_same_transaction(
    confpy, store, tmp_path
) -> None:
    """Moving from the shared-key layout to --no-publish-key deletes the published key in the
    very revision that publishes the new certificate: no watcher sees a mismatched pair."""
    import base64

    def key_exists_at(revision: int) -> bool:
        request = {"key": base64.b64encode(KEY.encode()).decode(), "revision": revision}
        return bool(store._rpc("get", "/kv/range", request).get("kvs"))

    assert confpy.run(*ROTATE).returncode == 0
    result = confpy.run(*ROTATE, "--no-publish-key", "--key-out", str(tmp_path / "tls.key"))
    assert result.returncode == 0, result.stderr
    _, cert_rev, key_pem, _ = published(store)
    assert key_pem is None
    assert key_exists_at(cert_rev - 1) and not key_exists_at(cert_rev)


def test_no_publish_key_without_key_out_is_a_usage_error(confpy, store) -> None:
    """--no-publish-key needs --key-out: exit 2, nothing written."""
    result = confpy.run(*ROTATE, "--no-publish-key")
    assert result.returncode == 2
    assert "--key-out" in result.stderr
    assert store.get(CERT)[0] is None


def test_no_publish_key_removes_a_stale_published_key(confpy, store, tmp_path) -> None:
    """Switching to the certificate-only layout deletes the old key from etcd."""
    assert confpy.run(*ROTATE).returncode == 0
    result = confpy.run(*ROTATE, "--no-publish-key", "--key-out", str(tmp_path / "k"))
    assert result.returncode == 0, result.stderr
    assert store.get(KEY)[0] is None


def test_cert_key_and_key_key_rename_the_keys(confpy, store) -> None:
    """--cert-key/--key-key choose the key names below the prefix (or absolute)."""
    result = confpy.run(*ROTATE, "--cert-key", "tls.crt", "--key-key", "/secret/tls.key")
    assert result.returncode == 0, result.stderr
    cert_pem, _ = store.get("/logstash/tls.crt")
    key_pem, _ = store.get("/secret/tls.key")
    assert cert_pem and key_pem
    assert store.get(CERT)[0] is None


def test_loser_of_a_race_gets_conflict_and_writes_nothing(store, etcd) -> None:
    """If another rotator writes between our read and our transaction, we raise ConflictError."""
    winner = new_store(etcd)

    class Interleaving:
        """Lets the other rotator publish right before our transaction."""

        def get(self, key):
            return store.get(key)

        def delete(self, key):
            return store.delete(key)

        def put_atomic(self, values, expect, delete=()):
            rotate(winner, opts())
            return store.put_atomic(values, expect, delete)

    try:
        issued_opts = opts()
        ours = issue(issued_opts, None)
        with pytest.raises(ConflictError, match="another rotator"):
            publish(Interleaving(), issued_opts, ours)  # type: ignore[arg-type]
        cert_pem, _, _, _ = published(store)
        assert tls.load_certificate(cert_pem) != ours.cert
        assert_matching_pair(store)
    finally:
        winner.close()


def test_conflict_is_exit_code_3() -> None:
    """ConflictError maps to exit 3, as documented for the losing rotator."""
    from confpy.cli import exit_code_for

    assert exit_code_for(ConflictError("x")) == 3


def test_retry_republishes_after_a_conflict(store) -> None:
    """With retries, a conflict is retried (injected sleep) and our pair is published whole."""
    sleeps: list[float] = []
    calls = {"n": 0}

    class ConflictOnce:
        def get(self, key):
            return store.get(key)

        def delete(self, key):
            return store.delete(key)

        def put_atomic(self, values, expect, delete=()):
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConflictError("another writer changed it first")
            return store.put_atomic(values, expect, delete)

    result = rotate(ConflictOnce(), opts(), retry_for=30, sleep=sleeps.append)  # type: ignore[arg-type]
    assert calls["n"] == 2 and len(sleeps) == 1
    cert_pem, _, _, _ = published(store)
    assert tls.inspect(tls.load_certificate(cert_pem)).fingerprint_sha256 == (
        result.info.fingerprint_sha256
    )


def test_concurrent_rotations_in_threads_never_leave_a_mismatched_pair(store, etcd) -> None:
    """Eight threads rotating at once: every end state in etcd is a matching pair."""
    stores = [new_store(etcd) for _ in range(8)]
    start = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def rotator(s: EtcdStore) -> None:
        start.wait()
        for _ in range(3):
            try:
                rotate(s, opts())
                outcomes.append("won")
            except ConflictError:
                outcomes.append("lost")
            assert_matching_pair(store)

    threads = [threading.Thread(target=rotator, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in stores:
            s.close()
    assert len(outcomes) == 24 and "won" in outcomes
    assert_matching_pair(store)
    _, cert_rev, _, key_rev = published(store)
    assert cert_rev == key_rev


@pytest.mark.slow
def test_concurrent_rotate_processes_with_retry_both_succeed(confpy, store) -> None:
    """Two CLI rotators started together with --retry both exit 0 and leave a matching pair."""
    procs = [confpy.start(*ROTATE, "--key-type", "ec-p256", "--retry") for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert_matching_pair(store)


def test_rotate_exits_3_when_etcd_is_unreachable(confpy_offline) -> None:
    """No etcd answering: exit 3 with a one-line error."""
    from confpy.testing.etcd import free_port

    env = confpy_offline.env(CONFPY_ENDPOINTS=f"http://127.0.0.1:{free_port()}")
    result = confpy_offline.run(*ROTATE, env=env)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("confpy: error:")


def test_show_prints_details_and_passes_for_a_fresh_pair(confpy, store) -> None:
    """tls show prints subject, SANs, issuer, validity, fingerprint and 'matches'; exit 0."""
    assert confpy.run(*ROTATE).returncode == 0
    cert = tls.load_certificate(store.get(CERT)[0])
    result = confpy.run("tls", "show", "--prefix", "/logstash")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for text in (
        "CN=logstash",
        "DNS:logstash.internal",
        "IP:127.0.0.1",
        "(self-signed)",
        "not after",
        tls.fingerprint(cert),
        "matches the certificate",
        "status:",
    ):
        assert text in out


def test_show_fails_when_key_does_not_match(confpy, store) -> None:
    """A published key from another pair makes tls show exit 1 and say so."""
    assert confpy.run(*ROTATE).returncode == 0
    store.put(KEY, tls.key_to_pem(tls.generate_key("ec-p256")))
    result = confpy.run("tls", "show", "--prefix", "/logstash")
    assert result.returncode == 1
    assert "does NOT match" in result.stdout
    assert "does not match" in result.stderr


def test_show_fails_when_key_is_missing_but_expected(confpy, store) -> None:
    """Without --cert-only a missing key is a failure that names the key."""
    key = tls.generate_key("ec-p256")
    cert = tls.build_certificate(key, "logstash")
    store.put(CERT, tls.cert_to_pem(cert))
    result = confpy.run("tls", "show", "--prefix", "/logstash")
    assert result.returncode == 1
    assert f"{KEY} is missing" in result.stderr


def test_show_cert_only_accepts_missing_key_and_checks_local_key(confpy, store, tmp_path) -> None:
    """--cert-only does not expect a key in etcd; --local-key checks the local key file."""
    key_out = tmp_path / "tls.key"
    assert confpy.run(*ROTATE, "--no-publish-key", "--key-out", str(key_out)).returncode == 0
    result = confpy.run(
        "tls", "show", "--prefix", "/logstash", "--cert-only", "--local-key", str(key_out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "absent, as expected" in result.stdout
    assert "local key" in result.stdout


def test_show_fails_for_an_expired_certificate(confpy, store) -> None:
    """An expired certificate makes tls show exit 1 even though the key matches."""
    key = tls.generate_key("ec-p256")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    cert = tls.build_certificate(key, "logstash", days=1, now=past)
    store.put_atomic({CERT: tls.cert_to_pem(cert), KEY: tls.key_to_pem(key)}, {})
    result = confpy.run("tls", "show", "--prefix", "/logstash")
    assert result.returncode == 1
    assert "expired" in result.stderr


def test_show_exits_3_when_nothing_is_published(confpy) -> None:
    """No certificate under the prefix: exit 3 naming the key."""
    result = confpy.run("tls", "show", "--prefix", "/logstash")
    assert result.returncode == 3
    assert CERT in result.stderr


@pytest.mark.slow
def test_every_rotates_again_before_expiry(confpy, store) -> None:
    """--every with a short validity publishes new certificates before the old ones expire."""
    proc = confpy.start(
        *ROTATE,
        "--key-type",
        "ec-p256",
        "--days",
        "0.0001",
        "--every",
        "200ms",
        "--renew-before",
        "7s",
    )
    seen: set[str] = set()
    try:

        def two_rotations() -> bool:
            cert_pem, _ = store.get(CERT)
            if cert_pem:
                info = tls.inspect(tls.load_certificate(cert_pem))
                assert not info.expired()
                seen.add(info.fingerprint_sha256)
            return len(seen) >= 3

        wait_for(two_rotations, timeout=30, what="two renewals")
        assert_matching_pair(store)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_every_stops_cleanly_on_sigterm(confpy, store) -> None:
    """SIGTERM ends the --every loop promptly with exit 0."""
    proc = confpy.start(*ROTATE, "--key-type", "ec-p256", "--every", "1h")
    try:
        wait_for(lambda: store.get(CERT)[0], timeout=20, what="first rotation")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, stderr
    assert "rotation loop stopped" in stderr


def test_every_logs_one_line_at_start_and_one_at_stop(confpy, store) -> None:
    """The start line names prefix, certificate key and interval; the stop line the rotations."""
    proc = confpy.start(*ROTATE, "--key-type", "ec-p256", "--every", "1h")
    try:
        wait_for(lambda: store.get(CERT)[0], timeout=20, what="first rotation")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    start = next(e for e in events if e["event"] == "rotation loop starting")
    assert (start["logger"], start["prefix"], start["cert_key"], start["every"]) == (
        "confpy.tls.every",
        "/logstash",
        CERT,
        3600.0,
    )
    assert (events[-1]["event"], events[-1]["rotations"]) == ("rotation loop stopped", 1)


def test_every_stops_on_sigterm_received_by_another_thread(confpy, store) -> None:
    """An hour-long sleep still ends at once when a gRPC thread gets the SIGTERM."""
    proc = confpy.start(*ROTATE, "--key-type", "ec-p256", "--every", "1h")
    try:
        wait_for(lambda: store.get(CERT)[0], timeout=20, what="first rotation")
        signal_another_thread(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, stderr


def test_rotation_files_are_never_group_readable_even_briefly(store, tmp_path) -> None:
    """The staged key file is created 0600 (umask 0 cannot widen it)."""
    old = os.umask(0)
    try:
        rotate(store, opts(key_out=tmp_path / "k.pem"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--days", "1e9"), "--days: 1e+09 days is more than 36500"),
        (("--days", "nan"), "--days: must be a positive number of days"),
        (("--days", "0.0000001"), "--days: 1e-07 days is 0.00864 s: the certificate would expire"),
        (("--cn", "x" * 100), "--cn: 100 characters is longer than X.509 allows"),
        (("--san", "FOO:bar"), "--san: unknown type 'FOO' in 'FOO:bar'"),
        (("--san", "URI:nope"), "--san: not an absolute URI"),
        (("--san", "email:nobody"), "--san: not an email address"),
    ],
)
def test_rotate_refuses_bad_input_with_one_line_and_publishes_nothing(
    confpy, store, args, message
) -> None:
    """Exit 2, one line naming the flag, etcd untouched."""
    result = confpy.run("tls", "rotate", "--prefix", "/logstash", "--cn", "logstash", *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"confpy: error: {message}"), result.stderr
    assert store.get(CERT) == (None, 0)


def test_rotate_publishes_uri_and_email_sans(confpy, store) -> None:
    result = confpy.run(
        "tls",
        "rotate",
        "--prefix",
        "/logstash",
        "--cn",
        "logstash",
        "--key-type",
        "ec-p256",
        "--san",
        "URI:spiffe://example.org/logstash",
        "--san",
        "email:ops@example.org",
        "--san",
        "DNS:logstash.internal",
    )
    assert result.returncode == 0, result.stderr
    cert_pem, _ = store.get(CERT)
    assert cert_pem is not None
    assert tls.inspect(tls.load_certificate(cert_pem)).sans == (
        "DNS:logstash.internal",
        "URI:spiffe://example.org/logstash",
        "email:ops@example.org",
    )
