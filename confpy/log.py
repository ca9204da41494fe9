"""Configure structlog once, at the CLI edge: JSON lines for machines, console for terminals.

This is the one place that holds logging's global state, and the one path every module
logs through (`get_logger("confpy.NAME")`): each event says who spoke in its `logger` field.
Events name resources, paths, keys, revisions and checksums; by convention nothing ever
logs a value read from etcd.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Send events at `level` and above to stderr as JSON lines or console text."""
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
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
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_NamedLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """The logger every module uses; its events carry `logger=name` (`confpy.daemon`...)."""
    return structlog.get_logger(name)


class _NamedPrintLogger(structlog.PrintLogger):
    """A PrintLogger that knows the name it was asked for, for `add_logger_name`."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedLoggerFactory:
    def __init__(self, out: Any) -> None:
        self._out = out

    def __call__(self, *args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(self._out, str(args[0]) if args else "confpy")
