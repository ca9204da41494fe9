"""Configure structlog once, at the CLI edge: JSON lines for machines, console for terminals.

This is the one place that holds logging's global state, and the one path every module
logs through (`get_logger(__name__)`): each event says who spoke in its `logger` field.
Events name resources, paths, keys, revisions and checksums; by convention nothing ever
logs a value read from etcd.

JSON lines, the format of every service and container, are written here directly: each
line is what structlog's JSONRenderer would print after `add_logger_name`,
`add_log_level` and an ISO UTC `TimeStamper` (`{...fields, "event", "logger", "level",
"timestamp"}`). structlog, which loads asyncio and ssl (~7 MB, ~30 ms per process), is
imported only for console output on a terminal, and then only with the first event that
passes the level. Before `configure()`, events go to structlog's defaults.

No text reaches a terminal raw: key names, paths and commands' output come from etcd or
from files, and a control character in them (ESC, newline) could forge a line or drive
the terminal. JSON lines escape them; the console's text goes through `escape` first,
and so does every `confpy: error:` line (`error_line`).

No line grows with what etcd holds either: a name shown in a message goes through
`shorten` (at most NAME_LIMIT characters, then its length and checksum), and every error
line, console event and JSON field is cut the same way at MESSAGE_LIMIT (a command's
`output` at OUTPUT_LIMIT), so a 200,000-character key name is never a 600 KB line.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import unicodedata
from datetime import UTC, datetime
from typing import Any

_LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "error": 40,
}


UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Characters never written raw to a terminal: control (NUL, newline, tab, ESC, DEL, C1),
format (bidi overrides, zero-width), lone surrogates, line and paragraph separators."""

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """`text` on one line, safe for a terminal: each unsafe character written as its
    Python escape (`\\x1b`, `\\n`, `\\u202e`), everything else as it is."""
    if text.isprintable():
        return text  # the common case, and no printable character is unsafe
    return "".join(
        _SHORT.get(c) or _hex(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c
        for c in text
    )


def _hex(c: str) -> str:
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


NAME_LIMIT = 200
"""The most characters a key name, path or other name from etcd takes in a message."""
MESSAGE_LIMIT = 2000
"""The most characters a whole error line's message takes (it may quote a command's output
on one line, at most 500 characters)."""
OUTPUT_LIMIT = 20_000
"""The most characters a log event's `output` field takes: above a command's output as
kept (`process.OUTPUT_LIMIT` bytes, four times over), which the log shows whole. Every
other event and field is cut at MESSAGE_LIMIT."""


def shorten(text: str, limit: int = NAME_LIMIT) -> str:
    """`text` escaped and, when longer than `limit`, cut: its first `limit // 2` escaped
    characters, then `…(N characters, sha256:XXXXXXXXXXXXXXXX)` to tell names apart."""
    if len(text) <= limit:
        shown = escape(text)
        if len(shown) <= limit:
            return shown
    return escape(text[: limit // 2])[: limit // 2] + _tail(text)


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """A JSON field's text cut as `shorten` cuts it, unescaped (JSON escapes its own)."""
    return text if len(text) <= limit else text[: limit // 2] + _tail(text)


def _limit(field: str) -> int:
    return OUTPUT_LIMIT if field == "output" else MESSAGE_LIMIT


def _tail(text: str) -> str:
    """What stands for the cut part: the whole text's length and checksum."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"…({len(text)} characters, sha256:{digest})"


def error_line(message: object) -> str:
    """`confpy: error: MESSAGE`, escaped and bounded: the one form of an error on stderr."""
    return "confpy: error: " + shorten(str(message), MESSAGE_LIMIT)


class _State:
    """What `configure()` chose, and whether structlog has been told yet."""

    level: int | None = None
    """None until configured: every event goes to structlog's defaults."""
    fmt: str = "auto"
    stream: Any = None
    json: bool = False
    """Write JSON lines here, without structlog."""
    applied: bool = True
    lock = threading.Lock()


_state = _State()


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Send events at `level` and above to stderr as JSON lines or console text."""
    _state.level = _LEVELS[level]
    _state.fmt = fmt
    _state.stream = stream or sys.stderr
    _state.json = not (fmt == "console" or (fmt == "auto" and _state.stream.isatty()))
    _state.applied = False


def _write_json(name: str, level: str, event: str, kw: dict[str, Any]) -> None:
    fields = {k: _clip(v, _limit(k)) if isinstance(v, str) else v for k, v in kw.items()}
    fields["event"] = _clip(event)
    fields["logger"] = name
    fields["level"] = level
    fields["timestamp"] = datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")
    line = json.dumps(fields, default=repr) + "\n"  # repr: as structlog's fallback
    with _state.lock:
        _state.stream.write(line)
        _state.stream.flush()


def _apply() -> None:
    """Configure structlog as `configure()` asked; called with the first enabled event."""
    import structlog

    out = _state.stream
    use_console = _state.fmt == "console" or (_state.fmt == "auto" and out.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_state.level or 0),
        logger_factory=_NamedLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _state.applied = True


class Logger:
    """A named logger that loads structlog only when an event passes the level."""

    __slots__ = ("_name", "_target")

    def __init__(self, name: str) -> None:
        self._name = name
        self._target: Any = None

    def _emit(self, level: str, event: str, kw: dict[str, Any]) -> None:
        if _state.level is not None and _LEVELS[level] < _state.level:
            return
        if _state.json and _state.level is not None:
            _write_json(self._name, level, event, kw)
            return
        # Console text: escaped here, for every event (JSON lines escape their own).
        event = shorten(event, MESSAGE_LIMIT)
        kw = {k: shorten(v, _limit(k)) if isinstance(v, str) else v for k, v in kw.items()}
        if not _state.applied:
            _apply()
        if self._target is None:
            import structlog

            self._target = structlog.get_logger(self._name)
        getattr(self._target, level)(event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._emit("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit("warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._emit("error", event, kw)


def get_logger(name: str) -> Logger:
    """The logger every module uses; its events carry `logger=name` (`confpy.watch.daemon`...)."""
    return Logger(name)


class _NamedLoggerFactory:
    """structlog's PrintLogger, told the name it was asked for (for `add_logger_name`)."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def __call__(self, *args: Any) -> Any:
        import structlog

        logger = structlog.PrintLogger(self._out)
        # structlog's add_logger_name reads `.name`, which PrintLogger does not declare.
        logger.name = str(args[0]) if args else "confpy"  # type: ignore[attr-defined]
        return logger
