"""The HTTP client to etcd against lying servers: every exchange bounded in time and size."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confpy import log
from confpy.config.settings import load_settings
from confpy.errors import ConfpyError, StoreError, StoreUnavailableError
from confpy.store import EtcdStore, Limits
from confpy.store.snapshot import WatchBatch
from tests.conftest import wait_for
from tests.fake_etcd import CHUNKED_HEAD, FakeEtcd, Script, chunk, range_reply, reply

_opened: list[EtcdStore] = []


def store_on(*urls: str, timeout: float = 1.0, limits: Limits | None = None) -> EtcdStore:
    settings = load_settings({"endpoints": ",".join(urls), "confdir": "/nonexistent"}, {})
    store = EtcdStore(settings, timeout=timeout, limits=limits)
    _opened.append(store)
    return store


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def servers() -> Iterator[list[FakeEtcd]]:
    started: list[FakeEtcd] = []
    yield started
    for s in started:
        s.close()


def serve(servers: list[FakeEtcd], script: Script) -> FakeEtcd:
    server = FakeEtcd(script)
    servers.append(server)
    return server


def test_a_reply_dripping_inside_one_chunk_ends_at_the_deadline(servers: list[FakeEtcd]) -> None:
    """One byte every 0.3 s inside one chunk: the whole exchange still ends at its one
    deadline (1 s here), not one timeout per byte."""

    def drip(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(CHUNKED_HEAD + b"1000\r\n")
        for _ in range(200):
            conn.sendall(b" ")
            time.sleep(0.3)

    store = store_on(serve(servers, drip).url)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError):
        store.get("/k")
    assert time.monotonic() - started < 2.5


def test_a_dripping_watch_stream_still_counts_as_silent(servers: list[FakeEtcd]) -> None:
    """A watch stream that drips bytes of a message that never ends is silent: the
    liveness check runs, and (etcd not answering it) the watch gives up."""

    def drip(conn: socket.socket, fake: FakeEtcd) -> None:
        request = fake.read_request(conn)
        if request is None or request[0] != "/v3/watch":
            return  # the liveness check: no answer
        created = json.dumps({"result": {"header": {"revision": "5"}, "created": True}})
        conn.sendall(CHUNKED_HEAD + chunk(created.encode() + b"\n") + b"1000\r\n")
        for _ in range(200):
            conn.sendall(b" ")
            time.sleep(0.1)

    store = store_on(serve(servers, drip).url)
    store.progress_interval = 0.5
    stop = threading.Event()
    seen: list[WatchBatch | BaseException] = []

    def follow() -> None:
        try:
            seen.extend(store.watch(["/w"], 6, stop))
        except BaseException as e:
            seen.append(e)

    threading.Thread(target=follow, daemon=True).start()
    try:
        wait_for(lambda: any(isinstance(s, BaseException) for s in seen), timeout=6)
    finally:
        stop.set()
    assert isinstance(seen[-1], StoreUnavailableError)


def test_a_huge_content_length_is_refused_before_reading(servers: list[FakeEtcd]) -> None:
    """`Content-Length: 4000000000`: refused at once with one line naming the limit and
    the endpoint, without reading (or holding) the body."""

    def flood(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4000000000\r\n\r\n")
        block = b"A" * 65536
        for _ in range(1000):  # 64 MB, then stall: an unbounded client reads on
            conn.sendall(block)
        time.sleep(5)

    fake = serve(servers, flood)
    store = store_on(fake.url, timeout=3)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.get("/k")
    assert not isinstance(info.value, StoreUnavailableError)
    message = str(info.value)
    assert "limit of" in message and f"127.0.0.1:{fake.port}" in message
    assert "AAAA" not in message and "\n" not in message
    assert time.monotonic() - started < 1.0


def test_a_chunked_flood_is_refused_at_the_limit(servers: list[FakeEtcd]) -> None:
    """A chunked reply that never ends is cut off at its kind's limit, not read on."""

    def flood(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(CHUNKED_HEAD)
        block = chunk(b"B" * 65536)
        for _ in range(2000):
            conn.sendall(block)

    store = store_on(serve(servers, flood).url, timeout=5, limits=Limits(small=1024 * 1024))
    with pytest.raises(StoreError, match="limit of 1048576 bytes"):
        store.keep_alive(7)


def test_an_unasked_100_continue_is_skipped(servers: list[FakeEtcd]) -> None:
    """Interim 1xx replies before the real one are skipped (RFC 9110 §15.2)."""

    def interim(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
        conn.sendall(reply(range_reply("/k", b"v")))

    store = store_on(serve(servers, interim).url)
    assert store.get("/k") == (b"v", 5)


def test_bytes_after_a_short_content_length_are_never_read_as_the_next_reply(
    servers: list[FakeEtcd],
) -> None:
    """A reply followed by bytes it did not announce (a forged second reply): the
    connection is closed, and the next request gets the real answer on a new one."""

    def forge(conn: socket.socket, fake: FakeEtcd) -> None:
        while request := fake.read_request(conn):
            forged = reply(range_reply("/k", b"forged"))
            conn.sendall(reply(range_reply("/k", b"real"), extra=forged))
            del request

    fake = serve(servers, forge)
    store = store_on(fake.url)
    assert store.get("/k") == (b"real", 5)
    assert store.get("/k") == (b"real", 5)
    assert fake.connections == 2


def _garbage_on_second(conn: socket.socket, fake: FakeEtcd) -> None:
    """Answers a first request properly, then garbage on the same connection."""
    if fake.read_request(conn) is None:
        return
    conn.sendall(reply(range_reply("/k", b"v")))
    if fake.read_request(conn) is not None:
        conn.sendall(b"XX garbage\r\n\r\n")


def _records(conn: socket.socket, fake: FakeEtcd) -> None:
    while fake.read_request(conn):
        conn.sendall(reply({"header": {"revision": "9"}}))


def test_a_put_answered_with_garbage_on_a_reused_connection_is_not_sent_elsewhere(
    servers: list[FakeEtcd],
) -> None:
    """The garbage may be a reply out of step: etcd may have written, so the put is not
    repeated on the next endpoint (a non-idempotent request is never sent twice)."""
    first = serve(servers, _garbage_on_second)
    second = serve(servers, _records)
    store = store_on(first.url, second.url)
    store.get("/k")
    with pytest.raises(StoreUnavailableError):
        store.put("/k", b"once")
    assert [p for p in first.paths() + second.paths() if p == "/v3/kv/put"] == ["/v3/kv/put"]


def test_a_put_whose_reply_is_cut_midway_is_not_sent_elsewhere(servers: list[FakeEtcd]) -> None:
    """The endpoint closes in the middle of its reply: the put may have happened."""

    def cut(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"head')

    first = serve(servers, cut)
    second = serve(servers, _records)
    store = store_on(first.url, second.url)
    with pytest.raises(StoreUnavailableError):
        store.put("/k", b"once")
    assert second.paths() == []


def test_garbage_is_one_line_and_fails_over(servers: list[FakeEtcd]) -> None:
    """A first reply that is not HTTP comes from something other than etcd: one line,
    and the next endpoint is asked."""

    def garbage(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(b"\x00\xff\x1b[31mnot http at all\r\n\r\n")

    first = serve(servers, garbage)
    second = serve(servers, _records)
    store = store_on(first.url, second.url)
    assert store.put("/k", b"v") == 9


def test_a_set_proxy_variable_is_named_once_in_the_log(
    servers: list[FakeEtcd], monkeypatch: pytest.MonkeyPatch
) -> None:
    """confpy connects directly; a set HTTPS_PROXY is not silently ignored."""
    import confpy.store._endpoint as endpoint_module

    buf = io.StringIO()
    monkeypatch.setattr(log, "_state", log._State())
    log.configure("info", "json", buf)

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setattr(endpoint_module, "_proxy_said", threading.Event())
    store = store_on(serve(servers, _records).url)
    store.put("/a", b"1")
    store.put("/b", b"2")
    err = buf.getvalue()
    assert err.count("ignores it") == 1 and "HTTPS_PROXY" in err
    assert "proxy.invalid" not in err


def test_a_stop_event_ends_a_request_in_flight(servers: list[FakeEtcd]) -> None:
    """Inside `cancelled_by(stop)`, setting `stop` ends a read etcd never answers at once
    (a worker thread's stop does not wait for the request timeout)."""

    def never(conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        time.sleep(30)

    fake = serve(servers, never)
    store = store_on(fake.url, timeout=20)
    stop = threading.Event()
    outcome: list[BaseException] = []

    def ask() -> None:
        with store.cancelled_by(stop):
            try:
                store.get("/k")
            except BaseException as e:
                outcome.append(e)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    wait_for(lambda: fake.requests, what="the request")
    started = time.monotonic()
    stop.set()
    thread.join(timeout=20)
    assert time.monotonic() - started < 1.0
    assert isinstance(outcome[0], StoreUnavailableError) and "cancelled" in str(outcome[0])


# -- any reply at all ---------------------------------------------------------------------------


class _Replayer:
    """One fake etcd that answers every request with the current `payload`, then closes."""

    def __init__(self) -> None:
        self.payload = b""
        self.fake = FakeEtcd(self._answer)

    def _answer(self, conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        conn.sendall(self.payload)


_replayer: _Replayer | None = None

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_etcd_like = st.fixed_dictionaries(
    {},
    optional={
        "header": st.dictionaries(st.sampled_from(["revision", "cluster_id"]), _json_values),
        "kvs": st.lists(
            st.dictionaries(st.sampled_from(["key", "value", "mod_revision"]), _json_values),
            max_size=2,
        ),
        "code": _json_values,
        "message": _json_values,
        "error": _json_values,
        "result": _json_values,
    },
)
_replies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d: reply(d), _etcd_like),
    st.builds(lambda d, s: reply(d, status=s), _etcd_like, st.sampled_from(["404 NF", "503 U"])),
    st.builds(
        lambda head, body: head + body,
        st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.0 "]),
        st.binary(max_size=200),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_replies)
def test_any_reply_is_an_answer_or_one_line_error(payload: bytes) -> None:
    """Whatever bytes come back, a read returns a value or raises one one-line
    ConfpyError: never another exception, never more than the limit held."""
    global _replayer
    if _replayer is None:
        _replayer = _Replayer()
    _replayer.payload = payload
    store = store_on(_replayer.fake.url, timeout=0.5, limits=Limits(range=4096, error=4096))
    try:
        store.get("/k")
    except ConfpyError as e:
        assert "\n" not in str(e)
    finally:
        store.close()


class _StreamReplayer:
    """A fake etcd whose watch stream says `created`, then the current `message`, then ends."""

    def __init__(self) -> None:
        self.message = b""
        self.fake = FakeEtcd(self._answer)

    def _answer(self, conn: socket.socket, fake: FakeEtcd) -> None:
        fake.read_request(conn)
        created = json.dumps({"result": {"header": {"revision": "5"}, "created": True}})
        conn.sendall(CHUNKED_HEAD + chunk(created.encode() + b"\n") + chunk(self.message))
        conn.sendall(b"0\r\n\r\n")


_stream_replayer: _StreamReplayer | None = None
_messages = st.one_of(
    st.binary(max_size=200).map(lambda b: b + b"\n"),
    st.builds(
        lambda d: json.dumps({"result": d}).encode() + b"\n",
        st.fixed_dictionaries(
            {},
            optional={
                "header": st.dictionaries(st.sampled_from(["revision"]), _json_values),
                "events": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "type": st.sampled_from(["PUT", "DELETE", 3]),
                            "kv": st.dictionaries(
                                st.sampled_from(["key", "value", "mod_revision"]), _json_values
                            ),
                        },
                    ),
                    max_size=2,
                ),
                "canceled": _json_values,
                "cancel_reason": _json_values,
                "compact_revision": _json_values,
                "created": _json_values,
            },
        ),
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=_messages)
def test_any_watch_message_is_a_batch_or_one_line_error(message: bytes) -> None:
    """Whatever one watch message holds, the watch yields batches and then ends with one
    one-line ConfpyError (the stream ends after it): never another exception."""
    global _stream_replayer
    if _stream_replayer is None:
        _stream_replayer = _StreamReplayer()
    _stream_replayer.message = message
    store = store_on(_stream_replayer.fake.url, timeout=0.5)
    try:
        with pytest.raises(ConfpyError) as info:
            for batch in store.watch(["/w"], 6, threading.Event()):
                assert isinstance(batch, WatchBatch)
        assert "\n" not in str(info.value)
    finally:
        store.close()
