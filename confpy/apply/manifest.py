"""The manifest of an `each` resource: which files it created (`.confpy-each.NAME.json`
in the dest's directory), read with every entry checked and written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from confpy.apply.installer import create_beside
from confpy.config.resource import TemplateResource, each_dest_regex
from confpy.errors import InstallError
from confpy.log import get_logger

log = get_logger(__name__)

MANIFEST_VERSION = 1


def manifest_path(resource: TemplateResource) -> Path:
    """Where an `each` resource lists the files it created."""
    return resource.dest.parent / f".confpy-each.{resource.name}.json"


def read_manifest(resource: TemplateResource) -> tuple[set[str], bool]:
    """The file names a resource's manifest lists, each checked; (names, manifest existed).

    An entry that is not a plain name in the dest's directory which the dest pattern can
    produce is ignored with a warning: a tampered manifest can make confpy forget a file,
    never remove one it did not create.
    """
    path = manifest_path(resource)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return set(), False
    except (OSError, ValueError) as e:
        log.warning(
            "each manifest unreadable, removing nothing",
            resource=resource.name,
            manifest=str(path),
            error=getattr(e, "strerror", None) or type(e).__name__,
        )
        return set(), True
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        log.warning(
            "each manifest has no file list, removing nothing",
            resource=resource.name,
            manifest=str(path),
        )
        return set(), True
    rx = each_dest_regex(str(resource.dest))
    names: set[str] = set()
    for entry in files:
        if (
            isinstance(entry, str)
            and entry not in ("", ".", "..")
            and "/" not in entry
            and "\0" not in entry
            and rx.fullmatch(str(resource.dest.parent / entry))
        ):
            names.add(entry)
        else:
            log.warning(
                "each manifest entry ignored",
                resource=resource.name,
                manifest=str(path),
                entry=repr(entry)[:200],
            )
    return names, True


def write_manifest(resource: TemplateResource, names: Iterable[str]) -> None:
    """Replace the manifest atomically (stage beside it, rename); InstallError on failure."""
    path = manifest_path(resource)
    body = (
        json.dumps(
            {
                "version": MANIFEST_VERSION,
                "resource": resource.name,
                "dest": str(resource.dest),
                "files": sorted(names),
            },
            indent=1,
        ).encode()
        + b"\n"
    )
    try:
        fd, stage = create_beside(path, 0o600)
    except OSError as e:
        raise InstallError(f"cannot write manifest: {e.strerror or e}", dest=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.rename(stage, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(stage)
        raise InstallError(f"cannot write manifest: {e.strerror}", dest=str(path)) from None
