"""The watch: one `/v3/watch` stream over the JSON gateway, kept alive at near-zero cost.

One watch spans from the smallest to the largest pattern, so that all events of one
transaction arrive in one response (separate watches deliver them in separate responses,
and a reload could run between the two). Keys in the span that no pattern matches are
dropped here. When the etcd user may not read the whole span, the store falls back to one
watch per range on the same stream, gathers responses that arrive together (`SETTLE`), and
raises `WatchGapError` if that stream breaks, since no single revision is then known to
resume from.

Liveness, at a cost to etcd that does not grow with the watched keys. The gateway reads
a request body to its end before it answers, so a client cannot send a
`progress_request` on an open watch (tried against etcd 3.5: no response at all). So:
- every socket has TCP keepalive (`_wire.KEEPALIVE`: a vanished peer is noticed in 60 s);
- the watch asks for etcd's own progress notifications (`progress_notify`, sent on a
  quiet stream every `--experimental-watch-progress-notify-interval`, 10 min by default);
- while the stream is silent, one `Status` call to the same member every
  `Timing.check_interval` (60 s, jittered up to +20 %) proves the member answers and
  has a leader; it costs etcd the same whatever is watched. Each proof is yielded as an
  empty batch at the revision already delivered (it claims nothing new), so the daemon
  knows etcd was heard;
- a stream on which nothing at all arrived for `Timing.stream_silence` (21 min: two
  progress periods and a margin) although the member answers is stuck (a proxy that
  stopped passing bytes): it is replaced by a new stream from the last delivered
  revision, so no revision is skipped or repeated.
A failed check raises `StoreUnavailableError`; the caller reconnects.
Cancelling: a `Watch` owns a `Scope` holding every connection it has open (the stream
and any check in flight); when `stop` is set the scope is cancelled, which ends every
read at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from confpy.config.keys import key_matches, watch_ranges
from confpy.errors import (
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
    WatchGapError,
)
from confpy.log import get_logger
from confpy.store._cancel import Scope, cancel_on
from confpy.store._codec import b64, header_int, origin, prefix_end, read_revision, unb64
from confpy.store._errors import EtcdReply, Kind, classify, reply_error, translate
from confpy.store._http import Transport
from confpy.store._wire import Connection, TooLarge, Unreachable, parse_json
from confpy.store.snapshot import Event, Origin, WatchBatch

log = get_logger(__name__)

# With one watch per range, one transaction's events arrive as one response per range:
# gather responses until the stream has been quiet this long (at most SETTLE_MAX).
SETTLE = 0.02
SETTLE_MAX = 0.2
CHECK_JITTER = 0.2


@dataclass
class Timing:
    """How a quiet watch proves itself alive (see the module docstring)."""

    check_interval: float = 60.0
    stream_silence: float = 21 * 60.0


class Watch:
    """Watch `patterns` until `stop`: owns its stream, its checks and its cancellation."""

    def __init__(
        self,
        transport: Transport,
        timing: Timing,
        patterns: Sequence[str],
        stop: threading.Event,
        *,
        split: bool,
        on_split: Callable[[], object] = lambda: None,
    ) -> None:
        self.transport = transport
        self.timing = timing
        self.patterns = patterns
        self.stop = stop
        self.split = split
        self._on_split = on_split
        self.scope = Scope()
        cancel_on(stop, self.scope)

    def run(self, start_revision: int) -> Iterator[WatchBatch]:
        ranges = watch_ranges(self.patterns)
        if not ranges:
            self.stop.wait()
            return
        spans = [(r.encode(), prefix_end(r.encode())) for r in ranges]
        with self.transport.scope(self.scope):
            if not self.split:
                if ranges == ["/"]:
                    whole = (b"/", prefix_end(b"/"))
                else:
                    whole = (spans[0][0], max(end for _, end in spans))
                try:
                    yield from _Stream(self, [whole]).run(start_revision)
                    return
                except SpanRefused:
                    if len(spans) == 1:
                        raise StoreAccessError(
                            f"etcd refused to watch {ranges[0]}: permission denied "
                            "(the etcd user's roles must allow reading it)"
                        ) from None
                    self.split = True
                    self._on_split()
                    log.warning(
                        "no read permission on the span from the lowest to the highest "
                        "watched key; watching each range separately",
                        ranges=ranges,
                    )
            try:
                yield from _Stream(self, spans).run(start_revision)
            except SpanRefused as e:
                raise WatchGapError(
                    f"etcd refused to watch {ranges[e.index]}: permission denied "
                    "(the etcd user's roles must allow reading it)"
                ) from None
            except StoreError as e:
                if isinstance(e, WatchGapError | RevisionCompactedError):
                    raise
                raise WatchGapError(str(e)) from e

    def check(self, conn: Connection) -> None:
        """Ask the stream's member for its status: it answers, and it has a leader."""
        try:
            with translate("watch liveness check"):
                status = self.transport.call("/maintenance/status", {}, only=conn.endpoint)
                if str(status.get("leader") or "0") == "0":
                    raise StoreUnavailableError(f"etcd member {conn.endpoint} has no leader")
        except StoreError as e:
            if not self.stop.is_set():
                self.transport.endpoint_failed(conn.endpoint)  # reconnect elsewhere first
            raise StoreUnavailableError(
                f"watch liveness check: etcd did not answer in time: {e}"
            ) from e


class SpanRefused(Exception):
    """etcd refused to create watch number `index` for lack of read permission."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class _Silent(Exception):
    """Nothing at all arrived on the stream for `Timing.stream_silence`."""


class _Stream:
    """Watches on `spans` over one connection, replaced when it is stuck."""

    def __init__(self, watch: Watch, spans: list[tuple[bytes, bytes]]) -> None:
        self.watch = watch
        self.spans = spans
        self.settle = len(spans) > 1
        self.delivered = 0  # every event up to here has been yielded

    def run(self, start_revision: int) -> Iterator[WatchBatch]:
        self.delivered = start_revision - 1
        first = True
        while not self.watch.stop.is_set():
            conn = self._open(self.delivered + 1, first)
            if conn is None:
                return  # stopped
            try:
                for batch in self._read(conn, self.delivered + 1):
                    self.delivered = max(self.delivered, batch.revision)
                    yield batch
                    if self.watch.stop.is_set():
                        return
            except _Silent:
                log.warning(
                    "watch stream silent although etcd answers; opening a new one",
                    endpoint=str(conn.endpoint),
                    resume_from=self.delivered + 1,
                )
            finally:
                self.watch.scope.discard(conn)
                conn.close()
            first = False

    def _open(self, start: int, first: bool) -> Connection | None:
        body = "\n".join(
            json.dumps(
                {
                    "create_request": {
                        "key": b64(low),
                        "range_end": b64(high),
                        "start_revision": str(start),
                        "progress_notify": True,
                    }
                }
            )
            for low, high in self.spans
        ).encode()
        try:
            with translate("watch"):
                conn = self.watch.transport.open_stream(
                    "/watch", body, self.watch.transport.timeout
                )
                self.watch.scope.add(conn)
        except StoreUnavailableError as e:
            if self.watch.stop.is_set():
                return None
            if first:
                raise
            raise StoreUnavailableError(f"watch stream stuck, and reconnecting failed: {e}") from e
        return conn

    def _read(self, conn: Connection, start: int) -> Iterator[WatchBatch]:
        reader = _Reader(self, conn, start)
        with translate("watch"):
            try:
                yield from reader.batches()
            except Unreachable:
                if self.watch.stop.is_set():
                    return
                self.watch.transport.endpoint_failed(conn.endpoint)
                raise
            except TooLarge as e:
                # Reading the stream again would meet the same message: a full snapshot
                # (bounded by the range limit) bridges it instead.
                raise WatchGapError(f"watch event refused: {e}; reading a full snapshot") from e
            except EtcdReply as e:
                if e.kind is Kind.TOKEN_INVALID:
                    self.watch.transport.forget_token(conn.endpoint)
                raise


class _Reader:
    """One stream's messages turned into batches, with the liveness clock."""

    def __init__(self, stream: _Stream, conn: Connection, start: int) -> None:
        self.stream = stream
        self.watch = stream.watch
        self.conn = conn
        self.start = start
        self.created = 0

    def batches(self) -> Iterator[WatchBatch]:
        pending = bytearray()
        held: list[Event] = []
        held_revision = 0
        first_at = last_at = 0.0
        timing = self.watch.timing
        limit = self.watch.transport.limits.event
        heard_at = time.monotonic()
        next_check = heard_at + _jittered(timing.check_interval)
        while True:
            deadline = min(next_check, heard_at + timing.stream_silence)
            if held:
                deadline = min(deadline, last_at + SETTLE, first_at + SETTLE_MAX)
            try:
                result = read_message(self.conn, pending, deadline, limit)
            except TimeoutError:
                if held:
                    yield WatchBatch(held_revision, tuple(held))
                    held, held_revision = [], 0
                    continue
                now = time.monotonic()
                if now >= heard_at + timing.stream_silence:
                    raise _Silent from None
                self.watch.check(self.conn)
                next_check = time.monotonic() + _jittered(timing.check_interval)
                yield WatchBatch(self.stream.delivered, ())  # alive; claims nothing new
                continue
            heard_at = time.monotonic()
            next_check = heard_at + _jittered(timing.check_interval)
            self.watch.transport.heard(result)
            self._raise_if_ended(result)
            raw_events = result.get("events") or ()
            sender, etcd_revision = _header(result)
            if result.get("created") and not raw_events:
                self.created += 1
                if self.created == len(self.stream.spans):
                    # Connected; nothing new yet. Events from `start` follow.
                    yield WatchBatch(self.start - 1, (), sender, etcd_revision)
                continue
            events = _matching_events(raw_events, self.watch.patterns)
            if not self.stream.settle:
                yield WatchBatch(_revision(result, raw_events), events, sender, etcd_revision)
            elif events:
                # (etcd's progress notifications: each range's speaks for that range only)
                now = time.monotonic()
                if not held:
                    first_at = now
                last_at = now
                held.extend(events)
                held_revision = max(held_revision, *(e.mod_revision for e in events))

    def _raise_if_ended(self, result: dict[str, Any]) -> None:
        """A compacted start revision or a watch etcd cancelled ends the stream: say why."""
        if result.get("compact_revision"):
            raise RevisionCompactedError(self.start, int(result["compact_revision"]))
        if result.get("canceled"):
            reason = str(result.get("cancel_reason") or "no reason given")
            kind = classify(reason)
            if kind is Kind.TOKEN_INVALID:
                self.watch.transport.forget_token(self.conn.endpoint)
            if kind is Kind.PERMISSION_DENIED and self.created < len(self.stream.spans):
                raise SpanRefused(self.created)
            raise StoreUnavailableError("etcd cancelled the watch: " + EtcdReply(0, reason).message)


def _jittered(interval: float) -> float:
    """`interval` stretched by up to CHECK_JITTER, so that a fleet's checks spread out."""
    import random  # here: a one-shot, which never watches, does not load it

    return interval * (1 + CHECK_JITTER * random.random())  # noqa: S311 - not security


def _header(result: dict[str, Any]) -> tuple[Origin, int]:
    """Which etcd sent a message, and its revision then (0 when absent)."""
    header = result.get("header")
    return origin(header), header_int(header, "revision")


def _revision(result: dict[str, Any], raw_events: Sequence[dict[str, Any]]) -> int:
    """The revision a response speaks for: its last event's, or etcd's at the time."""
    if raw_events:
        return max(read_revision(ev["kv"]["mod_revision"]) for ev in raw_events)
    return read_revision(result["header"]["revision"])


def read_message(
    conn: Connection, pending: bytearray, deadline: float | None, limit: int
) -> dict[str, Any]:
    """The next JSON message of a watch stream; TimeoutError when none came by `deadline`.

    The gateway ends each message with a newline; chunks need not align with messages. A
    message dripped a byte at a time still ends at `deadline`: silence is the absence of
    whole messages, not of bytes. One message may have at most `limit` bytes (`TooLarge`).
    """
    while (end := pending.find(b"\n")) < 0:
        try:
            chunk = conn.next_chunk(deadline, limit, "a watch event", have=len(pending))
        except (OSError, ValueError) as e:
            if isinstance(e, TimeoutError):
                raise
            raise Unreachable(conn.endpoint, f"watch stream broken: {e}", unsent=False) from e
        if not chunk:
            raise Unreachable(conn.endpoint, "etcd closed the watch stream", unsent=False)
        pending += chunk
    line = bytes(pending[:end])
    del pending[: end + 1]
    data = parse_json(conn.endpoint, line, 200, fresh=False)
    if "error" in data:
        raise reply_error(data)
    result = data.get("result")
    if not isinstance(result, dict):
        raise Unreachable(conn.endpoint, "not an etcd watch message", unsent=False)
    return result


def _matching_events(
    raw_events: Sequence[dict[str, Any]], patterns: Sequence[str]
) -> tuple[Event, ...]:
    out = []
    for ev in raw_events:
        kv = ev["kv"]
        key = unb64(kv["key"]).decode("utf-8", "replace")
        if any(key_matches(p, key) for p in patterns):
            value = None if ev.get("type") == "DELETE" else unb64(kv.get("value"))
            out.append(Event(key, value, read_revision(kv["mod_revision"])))
    return tuple(out)
