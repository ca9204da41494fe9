"""The watch: one `/v3/watch` stream over the JSON gateway, kept provably alive.

One watch spans from the smallest to the largest pattern, so that all events of one
transaction arrive in one response (separate watches deliver them in separate responses,
and a reload could run between the two). Keys in the span that no pattern matches are
dropped here. When the etcd user may not read the whole span, the store falls back to one
watch per range on the same stream, gathers responses that arrive together (`SETTLE`), and
raises `WatchGapError` if that stream breaks, since no single revision is then known to
resume from.

Liveness. The gateway reads a request body to its end before it answers (Go's HTTP/1.1
server discards an unread body before writing a response), so a client cannot send a
`progress_request` on an open watch: tried against etcd 3.5, a chunked body kept open gets
no response at all. Instead, when a stream has been silent for `progress_interval`, the
store checks with one read transaction that no watched key changed since the last revision
it delivered (`EtcdStore._unchanged_since`), closes the silent stream and opens a new one
from the revision that check read at; the new stream's `created` reply is yielded as the
progress notification (an empty batch at that revision). If something did change, the new
stream starts where the old one stopped and delivers it. If the check or the new stream
fails, the watch raises `StoreUnavailableError("watch stream silent ...")`. Either way a
healthy watch yields at least every `progress_interval` plus one round trip, a dead or
frozen connection is noticed within that, and no revision is skipped or repeated.
etcd's own periodic progress notifications (`progress_notify`) are used as well.

Cancelling: when `stop` is set, the watch's connection is shut down, which ends the read
at once. One helper thread per `stop` event waits for it (`Event.wait()`, no polling).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from confpy.errors import (
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
    WatchGapError,
)
from confpy.keys import key_matches, watch_ranges
from confpy.snapshot import Event, Origin, WatchBatch
from confpy.store._http import EtcdReply, reply_error, translate
from confpy.store._wire import Connection, Unreachable, parse_json

if TYPE_CHECKING:
    from confpy.store import EtcdStore

# With one watch per range, one transaction's events arrive as one response per range:
# gather responses until the stream has been quiet this long (at most SETTLE_MAX).
SETTLE = 0.02
SETTLE_MAX = 0.2


class SpanRefused(Exception):
    """etcd refused to create watch number `index` for lack of read permission."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def watch(
    store: EtcdStore, patterns: Sequence[str], start_revision: int, stop: threading.Event
) -> Iterator[WatchBatch]:
    from confpy.store import log, prefix_end

    ranges = watch_ranges(patterns)
    if not ranges:
        stop.wait()
        return
    spans = [(r.encode(), prefix_end(r.encode())) for r in ranges]
    if not store.split_watch:
        if ranges == ["/"]:
            whole = (b"/", prefix_end(b"/"))
        else:
            whole = (spans[0][0], max(end for _, end in spans))
        try:
            yield from _Stream(store, [whole], spans, patterns, stop).run(start_revision)
            return
        except SpanRefused:
            if len(spans) == 1:
                raise StoreAccessError(
                    f"etcd refused to watch {ranges[0]}: permission denied "
                    "(the etcd user's roles must allow reading it)"
                ) from None
            store.split_watch = True
            log.warning(
                "no read permission on the span from the lowest to the highest "
                "watched key; watching each range separately",
                ranges=ranges,
            )
    try:
        yield from _Stream(store, spans, spans, patterns, stop).run(start_revision)
    except SpanRefused as e:
        raise WatchGapError(
            f"etcd refused to watch {ranges[e.index]}: permission denied "
            "(the etcd user's roles must allow reading it)"
        ) from None
    except StoreError as e:
        if isinstance(e, WatchGapError | RevisionCompactedError):
            raise
        raise WatchGapError(str(e)) from e


class _Stream:
    """Watches on `spans` over one connection, replaced when it falls silent."""

    def __init__(
        self,
        store: EtcdStore,
        spans: list[tuple[bytes, bytes]],
        ranges: list[tuple[bytes, bytes]],
        patterns: Sequence[str],
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.spans = spans
        self.ranges = ranges  # what the liveness check reads: the watched ranges themselves
        self.patterns = patterns
        self.stop = stop
        self.settle = len(spans) > 1

    def run(self, start_revision: int) -> Iterator[WatchBatch]:
        delivered = start_revision - 1  # every event up to here has been yielded
        first = True
        while not self.stop.is_set():
            conn = self._open(delivered + 1, first)
            if conn is None:
                return  # stopped
            try:
                for batch in self._read(conn, delivered + 1):
                    delivered = max(delivered, batch.revision)
                    yield batch
                    if self.stop.is_set():
                        return
            except _Silent:
                # Every event up to `delivered` arrived; prove nothing happened since,
                # or replay it, on a new stream.
                try:
                    with translate("watch liveness check"):
                        unchanged = self.store._unchanged_since(self.ranges, delivered)
                except StoreError as e:
                    if self.stop.is_set():
                        return
                    raise StoreUnavailableError(
                        f"watch stream silent for {self.store.progress_interval:g}s and etcd "
                        f"did not answer: {e}"
                    ) from e
                if unchanged is not None:
                    delivered = max(delivered, unchanged)
            finally:
                _unregister(self.store, self.stop, conn)
                conn.close()
            first = False

    def _open(self, start: int, first: bool) -> Connection | None:
        body = "\n".join(
            json.dumps(
                {
                    "create_request": {
                        "key": _b64(low),
                        "range_end": _b64(high),
                        "start_revision": str(start),
                        "progress_notify": True,
                    }
                }
            )
            for low, high in self.spans
        ).encode()
        try:
            with translate("watch"):
                conn = self.store._transport.open_stream("/watch", body, self.store.timeout)
        except StoreUnavailableError as e:
            if self.stop.is_set():
                return None
            if first:
                raise
            raise StoreUnavailableError(f"watch stream silent, and reconnecting failed: {e}") from e
        if not _register(self.store, self.stop, conn):
            conn.close()
            return None
        return conn

    def _read(self, conn: Connection, start: int) -> Iterator[WatchBatch]:
        pending = bytearray()
        created = 0
        held: list[Event] = []
        held_revision = 0
        first_at = last_at = 0.0
        interval = self.store.progress_interval
        silent_since = time.monotonic()
        with translate("watch"):
            try:
                while True:
                    now = time.monotonic()
                    deadline = silent_since + interval
                    if held:
                        deadline = min(deadline, last_at + SETTLE, first_at + SETTLE_MAX)
                    try:
                        result = read_message(conn, pending, max(0.0, deadline - now))
                    except TimeoutError:
                        if held:
                            yield WatchBatch(held_revision, tuple(held))
                            held, held_revision = [], 0
                            continue
                        raise _Silent from None
                    silent_since = time.monotonic()
                    self._raise_if_ended(result, conn, start, created)
                    raw_events = result.get("events") or ()
                    sender, etcd_revision = _header(result)
                    if result.get("created") and not raw_events:
                        created += 1
                        if created == len(self.spans):
                            # Connected; nothing new yet. Events from `start` follow.
                            yield WatchBatch(start - 1, (), sender, etcd_revision)
                        continue
                    events = _matching_events(raw_events, self.patterns)
                    if not self.settle:
                        yield WatchBatch(
                            _revision(result, raw_events), events, sender, etcd_revision
                        )
                    elif events:
                        # etcd's periodic progress notifications are not used here: each
                        # range's would only speak for that range.
                        now = time.monotonic()
                        if not held:
                            first_at = now
                        last_at = now
                        held.extend(events)
                        held_revision = max(held_revision, *(e.mod_revision for e in events))
            except Unreachable:
                if self.stop.is_set():
                    return
                self.store._transport.endpoint_failed(conn.endpoint)
                raise
            except EtcdReply as e:
                if "invalid auth token" in e.message:
                    self.store._transport.forget_token(conn.endpoint)
                raise

    def _raise_if_ended(
        self, result: dict[str, Any], conn: Connection, start: int, created: int
    ) -> None:
        """A compacted start revision or a watch etcd cancelled ends the stream: say why."""
        if result.get("compact_revision"):
            raise RevisionCompactedError(start, int(result["compact_revision"]))
        if result.get("canceled"):
            reason = result.get("cancel_reason") or "no reason given"
            if "invalid auth token" in reason:
                # Log in again before the caller reconnects.
                self.store._transport.forget_token(conn.endpoint)
            if "permission denied" in reason and created < len(self.spans):
                raise SpanRefused(created)
            raise StoreUnavailableError("etcd cancelled the watch: " + reason)


def _header(result: dict[str, Any]) -> tuple[Origin, int]:
    """Which etcd sent a message, and its revision then (0 when absent)."""
    from confpy.store import header_int, origin

    header = result.get("header")
    return origin(header), header_int(header, "revision")


def _revision(result: dict[str, Any], raw_events: Sequence[dict[str, Any]]) -> int:
    """The revision a response speaks for: its last event's, or etcd's at the time."""
    if raw_events:
        return max(int(ev["kv"]["mod_revision"]) for ev in raw_events)
    return int(result["header"]["revision"])


def read_message(conn: Connection, pending: bytearray, timeout: float | None) -> dict[str, Any]:
    """The next JSON message of a watch stream; TimeoutError when none came in `timeout`.

    The gateway ends each message with a newline; chunks need not align with messages.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while (end := pending.find(b"\n")) < 0:
        remaining = None if deadline is None else deadline - time.monotonic()
        try:
            chunk = conn.next_chunk(remaining)
        except TimeoutError:
            raise
        except (OSError, ValueError) as e:
            raise Unreachable(conn.endpoint, f"watch stream broken: {e}", unsent=False) from e
        if not chunk:
            raise Unreachable(conn.endpoint, "etcd closed the watch stream", unsent=False)
        pending += chunk
    line = bytes(pending[:end])
    del pending[: end + 1]
    data = parse_json(conn.endpoint, line, 200)
    if "error" in data:
        raise reply_error(data)
    result = data.get("result")
    if not isinstance(result, dict):
        raise Unreachable(conn.endpoint, "not an etcd watch message", unsent=False)
    return result


class _Silent(Exception):
    """Nothing arrived on the stream for `progress_interval`."""


def _matching_events(
    raw_events: Sequence[dict[str, Any]], patterns: Sequence[str]
) -> tuple[Event, ...]:
    from confpy.store import unb64

    out = []
    for ev in raw_events:
        kv = ev["kv"]
        key = unb64(kv["key"]).decode("utf-8", "replace")
        if any(key_matches(p, key) for p in patterns):
            value = None if ev.get("type") == "DELETE" else unb64(kv.get("value"))
            out.append(Event(key, value, int(kv["mod_revision"])))
    return tuple(out)


def _b64(raw: bytes) -> str:
    from confpy.store import b64

    return b64(raw)


# -- cancelling on stop -----------------------------------------------------------------------


def _register(store: EtcdStore, stop: threading.Event, conn: Connection) -> bool:
    """Make `stop` shut `conn` down; False if `stop` is already set."""
    with store._cancel_lock:
        if stop.is_set():
            return False
        holder = store._cancellers.get(stop)
        if holder is None:
            holder = store._cancellers[stop] = [conn]
            threading.Thread(
                target=_cancel_on_stop,
                args=(store, stop),
                name="confpy-watch-cancel",
                daemon=True,
            ).start()
        else:
            holder[0] = conn
    return True


def _unregister(store: EtcdStore, stop: threading.Event, conn: Connection) -> None:
    with store._cancel_lock:
        holder = store._cancellers.get(stop)
        if holder is not None and holder[0] is conn:
            holder[0] = None


def _cancel_on_stop(store: EtcdStore, stop: threading.Event) -> None:
    stop.wait()
    with store._cancel_lock:
        holder = store._cancellers.pop(stop, [None])
    if holder[0] is not None:
        holder[0].close()
