"""How confpy reaches one etcd endpoint: its TLS context, and the rule for proxies.

Proxies: confpy connects to each endpoint directly. (etcdctl and confd, through etcd's Go
client and grpc-go, tunnel through `HTTPS_PROXY` with CONNECT unless `NO_PROXY` excludes
the endpoint: read in their source, not measured.) A set `HTTPS_PROXY`, `HTTP_PROXY` or
`ALL_PROXY` that `NO_PROXY` does not exclude for the endpoint is named once in the log,
so that nobody wonders why it had no effect (docs/operations.md, "Proxies").
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from confpy.config.settings import Endpoint, Settings
from confpy.errors import ConfigError
from confpy.log import get_logger

if TYPE_CHECKING:
    import ssl

log = get_logger(__name__)


def tls_context(s: Settings) -> ssl.SSLContext:
    """Built once, on the first https:// connection: http:// clusters never load `ssl`."""
    import ssl

    try:
        context = ssl.create_default_context()
    except ssl.SSLError as e:  # pragma: no cover - the system store itself is broken
        raise ConfigError(f"cannot load the system CA certificates: {e}") from None
    if s.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(s.ca_file))
        except (ssl.SSLError, OSError, ValueError) as e:
            raise ConfigError(
                f"--ca-file {s.ca_file}: not a readable PEM CA certificate ({_reason(e)})",
                field="ca_file",
            ) from None
    if s.cert_file is not None:
        try:
            context.load_cert_chain(str(s.cert_file), str(s.key_file) if s.key_file else None)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise ConfigError(
                f"--cert-file {s.cert_file} / --key-file {s.key_file}: not a readable PEM "
                f"certificate and matching key ({_reason(e)})",
                field="cert_file",
            ) from None
    return context


_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
_proxy_said = threading.Event()


def say_proxy_ignored(endpoint: Endpoint) -> None:
    """Say once per process that a proxy variable is set and not used (see operations.md)."""
    if _proxy_said.is_set():
        return
    env = {k.lower(): v for k, v in os.environ.items() if k.lower() in _PROXY_VARIABLES}
    names = sorted(k for k, v in env.items() if v)
    if names and not _no_proxy(endpoint.host):
        _proxy_said.set()
        log.warning(
            "a proxy variable is set; confpy connects to etcd directly and ignores it",
            variables=[n.upper() for n in names],
            endpoint=str(endpoint),
        )


def _no_proxy(host: str) -> bool:
    """True if NO_PROXY names `host` (then no proxy would apply to it anyway)."""
    listed = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    for entry in (e.strip().lower() for e in listed.split(",")):
        name = entry.removeprefix(".")
        if entry == "*" or (name and (host.lower() == name or host.lower().endswith("." + name))):
            return True
    return False


def _reason(e: BaseException) -> str:
    return str(getattr(e, "reason", None) or getattr(e, "strerror", None) or e)
