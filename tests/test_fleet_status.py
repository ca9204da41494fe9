"""`--report-prefix` status records and `confpy status`, against a real etcd."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from confpy.fleet.register import Registration
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher
from tests.helpers import ConfTree

PREFIX = "/fleet/status"
SECRET = "s3cr3t-value-never-published"


def _daemon(confpy: Confpy, root: Path, who: str, check: str | None = None) -> Watcher:
    tree = ConfTree(root / who)
    extra = f'check_cmd = ["test", "!", "-e", "{check}"]\n' if check else ""
    tree.simple("app", "password={{ getv('/app/password') }}\n", ["/app/password"], extra)
    return Watcher(confpy, tree, "--report-prefix", PREFIX, "--report-id", who)


def _record(store: EtcdStore, who: str) -> dict[str, object] | None:
    value, _ = store.get(f"{PREFIX}/{who}")
    return None if value is None else json.loads(value)


def test_status_follows_a_change_across_daemons_to_exit_0(
    confpy: Confpy, store: EtcdStore, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """Three daemons report; after a write at revision R, `status --wait-revision R` waits
    until all three reflect it, prints one line each and exits 0."""
    store.put("/app/password", b"old")
    watchers += [_daemon(confpy, tmp_path, f"web-{i}") for i in range(3)]
    wait_for(lambda: all(_record(store, f"web-{i}") for i in range(3)), 20, "three records")
    revision = store.put("/app/password", SECRET.encode())
    result = confpy.run(
        "status", "--report-prefix", PREFIX, "--wait-revision", str(revision), "--timeout", "30s"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [[f"web-{i}", "ok"] for i in range(3)]
    assert lines[3].startswith("3 host(s): 3 ok, 0 not")


def test_the_record_names_checksums_and_revisions_never_a_value(
    confpy: Confpy, store: EtcdStore, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """The record carries the installed file's sha256 and the revision it reflects, and
    neither the value nor a line of the file."""
    revision = store.put("/app/password", SECRET.encode())
    watchers.append(_daemon(confpy, tmp_path, "web-0"))
    dest = tmp_path / "web-0" / "out" / "app"
    wait_for(lambda: (_record(store, "web-0") or {}).get("in_sync"), 20, "an in-sync record")
    raw, _ = store.get(f"{PREFIX}/web-0")
    assert raw is not None and SECRET.encode() not in raw and b"password=" not in raw
    record = json.loads(raw)
    assert record["revision"] >= revision
    assert record["resources"] == {
        "app": {
            "checksum": "sha256:" + hashlib.sha256(dest.read_bytes()).hexdigest(),
            "failing": None,
        }
    }
    assert set(record) >= {"id", "healthy", "in_sync", "version", "started"}


def test_status_names_a_daemon_whose_check_failed_and_exits_1(
    confpy: Confpy, store: EtcdStore, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """One of three daemons refuses the new file in its check_cmd: status exits 1 and its
    last line names that daemon, whose line says which resource fails."""
    store.put("/app/password", b"old")
    refuse = tmp_path / "refuse"
    watchers += [_daemon(confpy, tmp_path, f"web-{i}") for i in range(2)]
    watchers.append(_daemon(confpy, tmp_path, "web-bad", check=str(refuse)))
    wait_for(lambda: (_record(store, "web-bad") or {}).get("healthy"), 20, "a healthy start")
    refuse.touch()
    revision = store.put("/app/password", b"new")
    result = confpy.run(
        "status", "--report-prefix", PREFIX, "--wait-revision", str(revision), "--timeout", "8s"
    )
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[-1].endswith(": web-bad"), lines[-1]
    bad = next(line for line in lines if line.startswith("web-bad "))
    assert "NOT OK" in bad and "failing[app]=" in bad


def test_a_stopped_daemon_s_record_goes_at_once(
    confpy: Confpy, store: EtcdStore, tmp_path: Path, watchers: list[Watcher]
) -> None:
    """SIGTERM revokes the record's lease: the key is gone when the daemon has exited."""
    store.put("/app/password", b"old")
    w = _daemon(confpy, tmp_path, "web-0")
    watchers.append(w)
    wait_for(lambda: _record(store, "web-0"), 20, "the record")
    assert w.stop() == 0
    assert _record(store, "web-0") is None


def test_status_exits_3_when_etcd_cannot_be_reached(confpy: Confpy) -> None:
    """No etcd on the endpoint: exit 3 with one line, no traceback."""
    env = confpy.env(CONFPY_ENDPOINTS=f"http://127.0.0.1:{free_port()}")
    result = confpy.run("status", "--report-prefix", PREFIX, env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_status_with_no_reporting_host_exits_1(confpy: Confpy) -> None:
    """An empty prefix is not a healthy fleet: a typo in the prefix must not pass a rollout."""
    result = confpy.run("status", "--report-prefix", PREFIX)
    assert result.returncode == 1
    assert "no host reports" in result.stdout


def test_hostile_records_cannot_break_or_forge_status_lines(
    confpy: Confpy, store: EtcdStore
) -> None:
    """Ids with newlines and escapes, records that are not JSON, huge or mistyped: one
    escaped line per key, none of them ok, no control character in the output."""
    ok = {"healthy": True, "in_sync": True, "revision": 1, "resources": {}}
    hostile = {
        "evil\nweb-1 ok healthy": json.dumps(ok).encode(),
        "esc\x1b[2J\x1b[31m": b"not json at all",
        "huge": b'{"healthy": true, "x": "' + b"A" * 300_000 + b'"}',
        "nested": b"[" * 100_000,
        "typed": json.dumps({**ok, "revision": "99999999"}).encode(),
        "names": json.dumps(
            {**ok, "healthy": False, "resources": {"a\nb\x07": {"failing": "x\r\ny"}}}
        ).encode(),
    }
    for key, value in hostile.items():
        store.put(f"{PREFIX}/{key}", value)
    result = confpy.run("status", "--report-prefix", PREFIX)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(hostile) + 1
    assert all(c.isprintable() for line in lines for c in line)
    assert not any(line.startswith("web-1") for line in lines)
    assert sum(" ok " in f" {line} " for line in lines[:-1]) == 1  # the evil id's own record
    as_json = confpy.run("status", "--report-prefix", PREFIX, "--output", "json")
    hosts = json.loads(as_json.stdout)["hosts"]
    assert {h["id"] for h in hosts} == set(hostile)


def test_a_replaced_value_is_put_under_the_same_lease(store: EtcdStore) -> None:
    """Registration.replace_value: the next step puts the new value, keeping the lease."""
    registration = Registration(store, "/fleet/r", b"one", 10)
    registration.step()
    lease = registration.lease
    registration.replace_value(b"two")
    registration.step()
    assert store.get("/fleet/r")[0] == b"two" and registration.lease == lease
    registration.release()


def test_read_prefix_lists_keys_below_the_prefix_oldest_first(store: EtcdStore) -> None:
    """Only keys under PREFIX/ (not PREFIX2), in create order, even after an update."""
    for key in ("/g/b", "/g/a", "/g2/x", "/g/c"):
        store.put(key, b"1")
    store.put("/g/b", b"2")
    _, entries = store.read_prefix("/g")
    assert [e.key for e in entries] == ["/g/b", "/g/a", "/g/c"]
    assert entries[0].value == b"2"
