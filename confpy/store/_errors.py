"""etcd's errors as confpy's: typed reply codes and the one table that maps them.

etcd answers an error with a gRPC status code and a message (`etcdserver: ...`). Only
`classify()` reads that message, once, into a `Kind`; every other piece of the store
looks at `EtcdReply.kind` and `code`. `translate()` is the one place where a transport
failure or an etcd error becomes one of confpy's errors, raised `from` the original.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from typing import Any

from confpy.errors import (
    RevisionCompactedError,
    StoreAccessError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
)
from confpy.store._wire import Cancelled, TooLarge, Unreachable


class Code(enum.IntEnum):
    """gRPC status codes, as the gateway puts them in `code` / `grpc_code`."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def of(cls, value: object) -> Code:
        try:
            return cls(int(value))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return cls.UNKNOWN


class Kind(enum.Enum):
    """What an etcd error is about, read once from its message by `classify()`."""

    NOT_FOUND = "not found"
    COMPACTED = "compacted"
    NO_SPACE = "database space exceeded"
    NO_LEADER = "no leader"
    PERMISSION_DENIED = "permission denied"
    TOKEN_INVALID = "invalid auth token"  # noqa: S105 - a message, not a password
    LOGIN_FAILED = "authentication failed"
    AUTH_NOT_ENABLED = "authentication is not enabled"
    USER_EMPTY = "user name is empty"
    OTHER = ""


# The message fragments etcd (rpctypes) uses for each kind; the only text ever read.
_MESSAGES = tuple((k.value, k) for k in Kind if k is not Kind.OTHER)


class EtcdReply(Exception):
    """etcd answered with an error: its gRPC `code`, `kind` and message."""

    def __init__(self, code: int, message: str, *, compact_revision: int = 0) -> None:
        # One printable line, whatever a lying endpoint put there.
        message = "".join(c if c.isprintable() else "?" for c in message[:300])
        super().__init__(message)
        self.code = Code.of(code)
        self.message = message
        self.kind = classify(message)
        self.compact_revision = compact_revision


def classify(message: str) -> Kind:
    """The kind of an etcd error message (or a watch's cancel reason)."""
    for fragment, kind in _MESSAGES:
        if fragment in message:
            return kind
    return Kind.OTHER


_Raise = Callable[[EtcdReply, str], StoreError]

_UNAVAILABLE_CODES = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED})

# The one table: (kind, code or None for any) -> confpy's error. First match wins.
ERROR_TABLE: tuple[tuple[Kind | None, Code | None, _Raise], ...] = (
    (Kind.COMPACTED, None, lambda e, w: RevisionCompactedError(0, e.compact_revision)),
    (
        Kind.LOGIN_FAILED,
        None,
        lambda e, w: StoreAccessError(
            "etcd refused the login: check CONFPY_USERNAME and the password"
        ),
    ),
    (
        Kind.TOKEN_INVALID,
        None,
        lambda e, w: StoreUnavailableError(f"etcd auth token expired during {w}"),
    ),
    (
        Kind.NO_SPACE,
        None,
        lambda e, w: StoreFullError(
            f"etcd is out of space (NOSPACE alarm) during {w}: writes wait until an "
            "operator compacts, defragments and disarms the alarm"
        ),
    ),
    (
        Kind.NO_LEADER,
        None,
        lambda e, w: StoreUnavailableError(f"etcd has no leader during {w}"),
    ),
    (Kind.PERMISSION_DENIED, None, lambda e, w: _refused(e, w)),
    (Kind.USER_EMPTY, None, lambda e, w: _refused(e, w)),
    (None, Code.UNAUTHENTICATED, lambda e, w: _refused(e, w)),
    (None, Code.PERMISSION_DENIED, lambda e, w: _refused(e, w)),
    (
        None,
        Code.RESOURCE_EXHAUSTED,
        lambda e, w: StoreUnavailableError(f"etcd is overloaded during {w}: {e.message}"),
    ),
)


def _refused(e: EtcdReply, what: str) -> StoreError:
    return StoreAccessError(f"etcd refused {what}: {e.message} (check the etcd user's roles)")


def error_for(e: EtcdReply, what: str) -> StoreError:
    """confpy's error for etcd's error reply `e` during `what`."""
    for kind, code, make in ERROR_TABLE:
        if (kind is None or e.kind is kind) and (code is None or e.code is code):
            return make(e, what)
    if e.code in _UNAVAILABLE_CODES:
        return StoreUnavailableError(f"etcd unavailable during {what}: {e.message}")
    return StoreError(f"etcd error during {what}: {e.message}")


@contextlib.contextmanager
def translate(what: str) -> Iterator[None]:
    """Map every transport failure and etcd error reply to confpy's errors."""
    try:
        yield
    except Unreachable as e:
        raise StoreUnavailableError(f"etcd unavailable during {what}: {e}") from e
    except Cancelled as e:
        raise StoreUnavailableError(f"{what} cancelled: {e}") from e
    except TooLarge as e:
        raise StoreError(f"etcd's answer to {what} refused: {e}") from e
    except EtcdReply as e:
        raise error_for(e, what) from e
    except (OSError, ValueError) as e:
        # What escaped the transport's own handling (a TLS file that went away, say).
        raise StoreUnavailableError(f"etcd unavailable during {what}: {e}") from e
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        # A reply in etcd's format whose content is not etcd's (a lying or broken endpoint).
        raise StoreUnavailableError(
            f"etcd's reply to {what} is malformed ({type(e).__name__})"
        ) from e


def reply_error(data: Any) -> EtcdReply:
    """The error in a gateway reply: `{"code", "message"}`, or in a stream `{"error": {...}}`."""
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            return EtcdReply(Code.of(inner.get("grpc_code", 2)), str(inner.get("message", "")))
        if "code" in data:
            return EtcdReply(Code.of(data["code"]), str(data.get("message") or data.get("error")))
    return EtcdReply(Code.UNKNOWN, "unexpected reply")


def etcd_shaped(data: dict[str, Any]) -> bool:
    """Whether an error reply looks like etcd's gateway (else it came from something else)."""
    inner = data.get("error")
    return ("code" in data and "message" in data) or (
        isinstance(inner, dict) and "grpc_code" in inner
    )
