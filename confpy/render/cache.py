"""Compiled templates kept across runs: Jinja's bytecode cache in a directory only we can write.

Loading cached bytecode runs it, so an entry is trusted only as far as whoever could have
written it. The cache therefore lives in a directory owned by the effective user and
writable by nobody else (`/var/cache/confpy` for root, `$XDG_CACHE_HOME/confpy` or
`~/.cache/confpy` otherwise, or `$CONFPY_CACHE_DIR`); a directory that fails that test
disables the cache instead of being used. Every file is opened relative to the directory's
descriptor without following links, and used only if it is a regular file owned by us with
mode 0600, its SHA-256 matches, it was compiled from the same source, and it holds a code
object; anything else is ignored and replaced. Entries are written to a 0600 temporary
file and renamed into place, so processes sharing the cache (a fleet of daemons) never
see half an entry. The cache key includes the Python, Jinja and confpy versions.

This module holds the process's cache choice, set once at the CLI edge by `configure()`
(like `confpy.log`); with no call, nothing is cached, so library users and tests compile
as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from jinja2.bccache import Bucket

ENV_DIR = "CONFPY_CACHE_DIR"
ENV_OFF = "CONFPY_NO_CACHE"
ROOT_DIR = Path("/var/cache/confpy")

_MAGIC = b"confpy-jinja-bytecode 1\n"
_DIGEST = 32  # SHA-256 of everything after it
_SUFFIX = ".jbc"
_MAX_ENTRY = 16 * 1024 * 1024


def default_directory(environ: Mapping[str, str], euid: int) -> Path | None:
    """Where the cache lives for this user, or None when there is no sensible place."""
    chosen = environ.get(ENV_DIR)
    if chosen:
        return Path(chosen)
    if euid == 0:
        # Not $HOME or $XDG_CACHE_HOME: under sudo they may still name the invoking user's
        # directories, which root must not execute code from.
        return ROOT_DIR
    xdg = environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "confpy"
    home = environ.get("HOME")
    if home and os.path.isabs(home):
        return Path(home) / ".cache" / "confpy"
    return None


def cache_disabled(environ: Mapping[str, str]) -> bool:
    return environ.get(ENV_OFF, "").strip().lower() not in ("", "0", "false", "no")


class SafeBytecodeCache:
    """Jinja's `BytecodeCache` on a directory descriptor, trusting only our own 0600 files.

    Not a subclass of it, so that choosing the cache at the CLI edge does not load Jinja
    (a tree of Go templates never does): Jinja calls `get_bucket` and `set_bucket` only.
    """

    def __init__(self, dir_fd: int, directory: Path, salt: str) -> None:
        self._fd = dir_fd
        self.directory = directory
        self._salt = salt
        self._uid = os.geteuid()

    @classmethod
    def open(cls, directory: Path, *, salt: str = "") -> SafeBytecodeCache | None:
        """The cache in `directory` (created 0700 if missing), or None if it is not safe."""
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            os.close(fd)
            from confpy.log import get_logger

            get_logger(__name__).warning(
                "template cache disabled: directory not owned by this user or writable by others",
                directory=str(directory),
            )
            return None
        return cls(fd, directory, salt)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def get_bucket(
        self, environment: jinja2.Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        """Jinja's bucket, keyed also by what of `environment` shapes the compiled code."""
        from jinja2.bccache import Bucket

        key = self.get_cache_key(f"{_compile_settings(environment)}\0{name}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def set_bucket(self, bucket: Bucket) -> None:
        self.dump_bytecode(bucket)

    def get_source_checksum(self, source: str) -> str:
        # Jinja's own checksum (BytecodeCache.get_source_checksum): entries stay valid.
        return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        if not self._salt:  # computed on first use: it names Jinja's version
            self._salt = _version_salt()
        text = f"{self._salt}\0{name}\0{filename or ''}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._read(bucket.key + _SUFFIX, bucket.checksum)
        if code is not None:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is None:
            return
        body = bucket.checksum.encode("ascii") + b"\n" + marshal.dumps(bucket.code)
        data = _MAGIC + hashlib.sha256(body).digest() + body
        self._write(bucket.key + _SUFFIX, data)

    def clear(self) -> None:
        for name in os.listdir(self._fd):
            if name.endswith(_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=self._fd)

    def _read(self, name: str, checksum: str) -> types.CodeType | None:
        """The code in entry `name` if every check passes, else None (never raises)."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._fd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != self._uid
                or st.st_mode & 0o077
                or st.st_size > _MAX_ENTRY
            ):
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(_MAX_ENTRY + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        head = len(_MAGIC) + _DIGEST
        if not data.startswith(_MAGIC) or len(data) < head:
            return None
        body = data[head:]
        if hashlib.sha256(body).digest() != data[len(_MAGIC) : head]:
            return None
        stored, _, payload = body.partition(b"\n")
        if stored != checksum.encode("ascii"):
            return None  # compiled from another version of the source
        try:
            # Safe to run: our own 0600 file in our own directory, digest checked above.
            code = marshal.loads(payload)  # noqa: S302
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, types.CodeType) else None

    def _write(self, name: str, data: bytes) -> None:
        """Write `data` to a private temporary file and rename it over `name`; errors ignored."""
        tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(tmp, flags, 0o600, dir_fd=self._fd)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self._fd)


def _compile_settings(env: jinja2.Environment) -> str:
    """The environment's class and options that change the code Jinja generates."""
    cls = type(env)
    return repr(
        (
            f"{cls.__module__}.{cls.__qualname__}",
            env.sandboxed,
            sorted(getattr(env, "intercepted_binops", ())),
            sorted(getattr(env, "intercepted_unops", ())),
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.newline_sequence,
            env.keep_trailing_newline,
            env.autoescape if isinstance(env.autoescape, bool) else "callable",
            env.optimized,
            env.finalize is not None,
            env.is_async,
            sorted(env.extensions),
        )
    )


def _version_salt() -> str:
    """What compiled code depends on besides the source: the interpreter, Jinja, confpy."""
    from importlib.util import MAGIC_NUMBER

    from jinja2 import __version__ as jinja_version

    from confpy import __version__

    python = f"{sys.implementation.cache_tag}:{MAGIC_NUMBER.hex()}"
    return f"{python}:jinja2-{jinja_version}:confpy-{__version__}"


class _Choice:
    cache: SafeBytecodeCache | None = None


_choice = _Choice()


def configure(*, enabled: bool = True, environ: Mapping[str, str] | None = None) -> Path | None:
    """Choose the cache for this process; return its directory, or None when there is none.

    `enabled=False` is `--no-cache`; `$CONFPY_NO_CACHE` turns it off too.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if _choice.cache is not None:
        _choice.cache.close()
        _choice.cache = None
    if not enabled or cache_disabled(env):
        return None
    directory = default_directory(env, os.geteuid())
    if directory is None:
        return None
    _choice.cache = SafeBytecodeCache.open(directory)
    return _choice.cache.directory if _choice.cache is not None else None


def current() -> Any:
    """The bytecode cache `make_environment` should use (None: compile every time)."""
    return _choice.cache
