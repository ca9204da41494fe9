"""Tell systemd (Type=notify) that confpy is ready, and keep its watchdog fed."""

from __future__ import annotations

import contextlib
import os
import socket


def notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Send `message` (e.g. `READY=1`) to $NOTIFY_SOCKET; False when there is none."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        # An abstract socket: the leading @ stands for a NUL byte.
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(address)
        s.sendall(message.encode())
        return True
    return False


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """Half of $WATCHDOG_USEC in seconds (systemd's advice), when it is meant for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
