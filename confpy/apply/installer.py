"""Install rendered files like a transaction: stage, compare, check, replace, reload.

The stage file is created in the destination's own directory, so the final `rename` is
atomic on the same filesystem and a reader sees either the old file or the new one,
never half of either. It is created with its final restrictive mode from the first byte
(a 0600 key file is never readable by others, not even for a moment). On any failure
before the rename, the destination is untouched and the stage file removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from confpy.config.commands import prepare
from confpy.config.resource import TemplateResource, file_owner
from confpy.errors import (
    CheckFailedError,
    CommandError,
    ConfigError,
    InstallError,
    RenderError,
)
from confpy.log import get_logger
from confpy.redact import is_private
from confpy.supervise.process import run_checked

log = get_logger(__name__)

DEFAULT_MODE = 0o644
"""confd's default for a new file when the resource sets no mode."""


@dataclass(frozen=True)
class FileState:
    """What a destination should look like: content, mode and owner."""

    content: bytes
    mode: int
    uid: int
    gid: int

    @property
    def checksum(self) -> str:
        return "sha256:" + hashlib.sha256(self.content).hexdigest()[:16]


@dataclass
class Staged:
    """A rendered file waiting in its stage file next to the destination."""

    resource: TemplateResource
    desired: FileState
    path: Path
    remove: bool = False
    """A removal (an `each` file whose match is gone): commit unlinks the destination."""
    link: str | None = None
    """A rollback of a destination that was a symbolic link: `path` is a new link to the
    same target (this text), which commit renames into place."""


def desired_state(resource: TemplateResource, content: bytes) -> FileState:
    """Resource mode and owner where set; otherwise an existing file keeps its own."""
    try:
        st = os.stat(resource.dest)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InstallError(f"cannot stat: {e.strerror}", dest=str(resource.dest)) from None
    mode = (
        resource.mode
        if resource.mode is not None
        else (stat.S_IMODE(st.st_mode) if st else DEFAULT_MODE)
    )
    try:
        uid, gid = file_owner(resource)
    except LookupError as e:  # an owner or group this machine lacks fails this file alone
        raise InstallError(str(e), dest=str(resource.dest)) from None
    uid = uid if uid is not None else (st.st_uid if st else os.geteuid())
    gid = gid if gid is not None else (st.st_gid if st else os.getegid())
    return FileState(content, mode, uid, gid)


def is_current(resource: TemplateResource, desired: FileState) -> bool:
    """True when the destination already has this content, mode and owner."""
    try:
        st = os.stat(resource.dest)
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (
            desired.mode,
            desired.uid,
            desired.gid,
        ):
            return False
        if st.st_size != len(desired.content):
            return False
        return Path(resource.dest).read_bytes() == desired.content
    except FileNotFoundError:
        return False
    except OSError as e:
        raise InstallError(f"cannot read: {e.strerror}", dest=str(resource.dest)) from None


def stage(resource: TemplateResource, desired: FileState) -> Staged:
    """Write `desired` into a new stage file beside the destination, fsynced."""
    dest = resource.dest
    directory = dest.parent
    if not directory.is_dir():
        if not resource.make_dirs:
            raise InstallError(
                f"directory {directory} does not exist (set make_dirs = true to create it)",
                dest=str(dest),
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InstallError(
                f"cannot create directory {directory}: {e.strerror}", dest=str(dest)
            ) from None
    # Created owner-only: nothing is readable before owner and final mode are set.
    try:
        fd, path = create_beside(dest, 0o600)
    except FileExistsError:
        raise InstallError(f"cannot create a stage file in {directory}", dest=str(dest)) from None
    except OSError as e:
        raise InstallError(
            f"cannot create a stage file in {directory}: {e.strerror}", dest=str(dest)
        ) from None
    try:
        # Owner first: fchown clears set-id bits, so the mode goes after it. Both happen
        # while the file is still empty.
        if (desired.uid, desired.gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, desired.uid, desired.gid)
        os.fchmod(fd, desired.mode)
        view = memoryview(desired.content)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        _unlink(path)
        raise InstallError(f"cannot write stage file: {e.strerror}", dest=str(dest)) from None
    os.close(fd)
    return Staged(resource, desired, path)


def create_beside(dest: Path, mode: int, suffix: str = "") -> tuple[int, Path]:
    """Create a new hidden file next to `dest`, with `mode` from the start; (fd, path).

    O_EXCL on a name no one else uses, so the file is ours alone and was never readable
    more widely than `mode`. OSError as the system gave it; FileExistsError when 100
    names are taken.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    return _beside(dest, lambda path: (os.open(path, flags, mode), path), suffix)


_T = TypeVar("_T")

NAME_MAX = 255
"""Bytes in one file name on Linux's filesystems (ext4, xfs, btrfs, tmpfs, overlayfs)."""


def stage_fits(dest: Path) -> bool:
    """Whether `dest`'s name leaves room for its stage file's name (the longest one)."""
    return len(os.fsencode(f".{dest.name}.confpy-{2**22}-99")) <= NAME_MAX


def _beside(dest: Path, make: Callable[[Path], _T], suffix: str = "") -> _T:
    """`make(path)` on the first free hidden name next to `dest`; it must raise
    FileExistsError when the name is taken."""
    for attempt in range(100):
        path = dest.parent / f".{dest.name}.confpy-{os.getpid()}-{attempt}{suffix}"
        try:
            return make(path)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free stage file name in {dest.parent}")


def check(staged: Staged) -> None:
    """Run the resource's check_cmd on the stage file; raise CheckFailedError if it fails."""
    resource = staged.resource
    if resource.check_cmd is None or staged.remove:
        return
    try:
        command = prepare(
            resource.check_cmd, field="check_cmd", src=str(staged.path), dest=str(resource.dest)
        )
        run_checked(command, timeout=resource.command_timeout, what="check_cmd")
    except (CommandError, ConfigError) as e:
        raise CheckFailedError(e.message, dest=str(resource.dest)) from None
    log.debug("check passed", resource=resource.name, command=command.shown)


def commit(staged: Staged, *, sync_dir: bool = True) -> None:
    """Move the stage file over the destination atomically and make the rename durable.

    With `sync_dir=False` the caller makes the rename durable: it installs many files
    and calls `sync_directories` once for all of them (one fsync per directory, not one
    per file: 200 files in one directory were 200 fsyncs).
    """
    dest = staged.resource.dest
    if staged.remove:
        _remove(staged)
        return
    try:
        os.rename(staged.path, dest)
    except OSError as e:
        if e.errno not in (errno.EBUSY, errno.EXDEV) or staged.link is not None:
            raise InstallError(f"cannot replace: {e.strerror}", dest=str(dest)) from None
        # A bind-mounted file (e.g. /etc/hosts in a container) cannot be renamed over:
        # rewrite it in place, which is not atomic, and say so.
        log.warning(
            "destination is a mount point, rewriting in place (not atomic)",
            resource=staged.resource.name,
            dest=str(dest),
        )
        _rewrite_in_place(staged)
        discard(staged)
        return
    if sync_dir:
        _fsync_dir(dest.parent)


def _rewrite_in_place(staged: Staged) -> None:
    dest = staged.resource.dest
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise InstallError(f"cannot rewrite in place: {e.strerror}", dest=str(dest)) from None
    try:
        os.write(fd, staged.desired.content)
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(staged: Staged, *, keep: bool = False) -> None:
    """Remove the stage file (or leave it for inspection with --keep-stage-file)."""
    if keep or staged.remove:  # kept for inspection; or, for a removal, nothing was staged
        return
    _unlink(staged.path)


def diff(resource: TemplateResource, desired: FileState) -> str:
    """A unified diff of a pending change; checksums only for a private file (`secret`, or
    its old or new mode denies others read: `confpy.redact.is_private`)."""
    old_mode: int | None = None
    try:
        old = resource.dest.read_bytes()
        st = os.stat(resource.dest)
        old_mode = stat.S_IMODE(st.st_mode)
        old_meta = f"mode {old_mode:04o} owner {st.st_uid}:{st.st_gid}"
    except FileNotFoundError:
        old, old_meta = b"", "absent"
    except OSError as e:
        raise InstallError(f"cannot read: {e.strerror}", dest=str(resource.dest)) from None
    new_meta = f"mode {desired.mode:04o} owner {desired.uid}:{desired.gid}"
    header = f"--- {resource.dest} ({old_meta})\n+++ {resource.dest} ({new_meta})\n"
    if resource.secret or is_private(old_mode, desired.mode):  # 0600 becoming 0644 too
        modes = f"{old_mode:04o} -> " if old_mode not in (None, desired.mode) else ""
        return header + (
            f"  contents hidden (mode {modes}{desired.mode:04o}): "
            f"{_checksum(old)} -> {desired.checksum}\n"
        )
    import difflib

    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        desired.content.decode("utf-8", "replace").splitlines(keepends=True),
        n=3,
    )
    body = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in list(lines)[2:]
    )
    return header + body


def _checksum(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16] if data else "(none)"


def sync_directories(directories: Iterable[Path]) -> None:
    """Make renames into each directory durable, once per directory."""
    for directory in sorted(set(directories)):
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# -- guards and removals (issue 14) ----------------------------------------------------------


def check_min_bytes(resource: TemplateResource, content: bytes) -> None:
    """`min_bytes`: refuse a render shorter than the resource's floor (the old file stays)."""
    if len(content) < resource.min_bytes:
        raise RenderError(
            f"rendered {len(content)} bytes, fewer than min_bytes = {resource.min_bytes}; "
            f"{resource.dest} left as it was",
            file=str(resource.src),
        )


def stage_removal(resource: TemplateResource) -> Staged:
    """A removal to commit with the change set: nothing is written before the commit."""
    return Staged(resource, FileState(b"", 0, 0, 0), resource.dest, remove=True)


def removal_diff(resource: TemplateResource) -> str:
    """What `--noop` shows for a file that would be removed."""
    try:
        st = os.lstat(resource.dest)
        meta = f"mode {stat.S_IMODE(st.st_mode):04o} owner {st.st_uid}:{st.st_gid}"
    except OSError:
        meta = "absent"
    return f"--- {resource.dest} ({meta})\n+++ {resource.dest} (removed: its key is gone)\n"


def _remove(staged: Staged) -> None:
    dest = staged.resource.dest
    try:
        os.unlink(dest)
    except FileNotFoundError:
        return
    except OSError as e:
        raise InstallError(f"cannot remove: {e.strerror}", dest=str(dest)) from None
    _fsync_dir(dest.parent)


def keep_previous(resource: TemplateResource) -> Staged:
    """`on_reload_failure = "rollback"`: stage the destination as it is now, to restore it.

    The copy sits beside the destination with the same content, mode and owner, so
    `commit()` of it is an atomic rename back. A symbolic link is kept as a link to the
    same target (the install replaces the link, never its target): restoring it puts the
    link back, so a shared target is followed again. When there is no file yet, restoring
    means removing the new one: the previous state was "no file".
    """
    dest = resource.dest
    try:
        st = os.lstat(dest)
        if stat.S_ISLNK(st.st_mode):
            return _keep_link(resource, st)
        content = dest.read_bytes()
    except FileNotFoundError:
        return stage_removal(resource)
    except OSError as e:
        raise InstallError(
            f"cannot keep the previous file: {e.strerror or e}", dest=str(dest)
        ) from None
    return stage(resource, FileState(content, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))


def _keep_link(resource: TemplateResource, st: os.stat_result) -> Staged:
    """A new link beside the destination, to the target its link names, with its owner."""
    dest = resource.dest
    target = os.readlink(dest)

    def make(path: Path) -> Path:
        os.symlink(target, path)
        return path

    path = _beside(dest, make)
    try:
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            os.lchown(path, st.st_uid, st.st_gid)
    except OSError:
        _unlink(path)
        raise
    return Staged(resource, FileState(b"", 0, st.st_uid, st.st_gid), path, link=target)
