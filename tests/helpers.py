"""Builders for test configuration trees: a CONFDIR with conf.d/ and templates/."""

from __future__ import annotations

import os
import stat
from functools import cache
from pathlib import Path

from confpy.config.resource import load_resource
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot


@cache
def pem() -> str:
    """A real RSA private key in PEM, made once: the secret that must never be shown."""
    from confpy.tls import keypairs as tls

    return tls.key_to_pem(tls.generate_key("rsa2048")).decode()


class ConfTree:
    """A CONFDIR under a temporary directory, with an `out/` directory for destinations."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.confdir = root / "confdir"
        self.out = root / "out"
        (self.confdir / "conf.d").mkdir(parents=True)
        (self.confdir / "templates").mkdir()
        self.out.mkdir()

    def resource(self, name: str, body: str) -> Path:
        """Write conf.d/NAME.toml; `{out}` in the body stands for the output directory."""
        path = self.confdir / "conf.d" / f"{name}.toml"
        path.write_text(body.replace("{out}", str(self.out)))
        return path

    def template(self, name: str, text: str) -> Path:
        path = self.confdir / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def simple(self, name: str, template: str, keys: list[str], extra: str = "") -> Path:
        """A resource NAME rendering templates/NAME.j2 into out/NAME."""
        self.template(f"{name}.j2", template)
        key_list = ", ".join(f'"{k}"' for k in keys)
        self.resource(
            name,
            f'[template]\nsrc = "{name}.j2"\ndest = "{{out}}/{name}"\nkeys = [{key_list}]\n{extra}',
        )
        return self.out / name


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def render_resource(
    tmp_path: Path,
    name: str,
    source: str,
    keys: dict[str, str],
    prefix: str = "",
    syntax: str | None = None,
) -> bytes:
    """Render `source` as confpy renders a resource whose template is `name`.

    The extension picks the syntax as it does for users (`.j2`/`.jinja`/`.jinja2` is Jinja2, else Go);
    `syntax`, when given, asserts that it did.
    """
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "conf.d").mkdir(exist_ok=True)
    (tmp_path / "templates" / name).write_bytes(source.encode("utf-8"))
    toml = tmp_path / "conf.d" / "t.toml"
    toml.write_text(
        f'[template]\nsrc = "{name}"\ndest = "/tmp/t.out"\nkeys = ["/"]\nprefix = "{prefix}"\n'
    )
    resource = load_resource(toml, tmp_path / "templates")
    if syntax is not None:
        assert resource.syntax == syntax
    templates, errors = TemplateSet.load(tmp_path / "templates", [resource])
    if errors:
        raise errors[0]
    return templates.render(resource, Snapshot(7, {k: v.encode("utf-8") for k, v in keys.items()}))


def signal_another_thread(pid: int, sig: int) -> int:
    """Send `sig` to a thread of process `pid` other than its main thread; return its TID.

    `kill()` lets the kernel pick the thread, which usually is the main one; this makes
    the unusual case (a helper thread receives the SIGTERM) happen on purpose. A process
    with only its main thread cannot meet that case: the test is skipped.
    """
    import ctypes

    import pytest

    others = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    if not others:
        pytest.skip(
            f"process {pid} runs no thread besides its main one: no other can receive the signal"
        )
    tid = others[-1]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(_SYS_TGKILL, pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {sig}) failed")
    return tid


# tgkill(2) by number: glibc only gained a wrapper in 2.30.
_SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[os.uname().machine]
