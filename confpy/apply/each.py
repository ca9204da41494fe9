"""One template to many files: plan `each` resources' files per snapshot, and own them.

An `each` resource renders once per key or key directory matching its glob. `plan` turns
a change set's resources into file operations (`confpy.apply.plan`) before anything renders:
each match is a file with a resource derived for it (named `NAME[match]`), so rendering,
staging, `check_cmd`, reloads and retries treat it like any resource, and the runner
folds the files' outcomes back into one outcome for `NAME`.

Which files a resource created is recorded in a manifest in the dest's directory
(`.confpy-each.NAME.json`). A file is removed only when its match disappeared, the
manifest lists it, its name is one the dest pattern can produce (so it lies in that very
directory), and it is not a directory. A manifest that is unreadable or names anything
else removes nothing. A file that exists but is not listed is never overwritten unless
it already holds exactly what would be written (then it is adopted: a lost manifest or a
crash between install and manifest write heals itself).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from confpy.apply.installer import NAME_MAX, stage_fits
from confpy.apply.manifest import manifest_path, read_manifest, write_manifest
from confpy.apply.plan import FileOp, Owned, Plan
from confpy.config.fields import EACH_NAME
from confpy.config.keys import matches_any
from confpy.config.resource import EachMatch, TemplateResource, each_dest_regex
from confpy.errors import ConfpyError, EachFileError, InstallError, RenderError
from confpy.functions.kv import glob_regex
from confpy.log import escape, get_logger, shorten
from confpy.store.snapshot import Snapshot

log = get_logger(__name__)

Reserved = Mapping[str, Mapping[str, str]]
"""By `each` resource name: the other resources' dests it must never write (path -> owner)."""


def reserved_dests(resources: Iterable[TemplateResource]) -> dict[str, dict[str, str]]:
    """A plain resource's dest that an `each` dest could produce is reserved: that one
    match fails instead of overwriting it."""
    resources = list(resources)
    plain = [r for r in resources if r.each is None]
    reserved: dict[str, dict[str, str]] = {}
    for r in resources:
        if r.each is not None:
            rx = each_dest_regex(str(r.dest))
            mine = {str(p.dest): p.name for p in plain if rx.fullmatch(str(p.dest))}
            if mine:
                reserved[r.name] = mine
    return reserved


def plan(
    resources: Sequence[TemplateResource],
    snapshot: Snapshot,
    reserved: Reserved | None = None,
    *,
    removals: bool = True,
) -> Plan:
    """A change set's files: one per plain resource, one per match of an `each` resource,
    then the removal of each file whose match is gone. Reads the manifests.

    A match refused here (its name, or another resource's file) stays out of the change
    set: a key name nobody can fix by waiting never holds back the other files (under
    `--watch` a change set installs all or nothing). `finish` reports it.

    Without `removals` (a preview), no manifest is read and nothing is removed.
    """
    files: list[FileOp] = []
    owned: dict[str, Owned] = {}
    refusals: dict[str, ConfpyError] = {}
    for r in resources:
        if r.each is None:
            files.append(FileOp(r, r.name))
            continue
        o = owned[r.name] = Owned(r, *(read_manifest(r) if removals else (set(), False)))
        ops, refused = expand(r, snapshot, (reserved or {}).get(r.name, {}))
        for op in ops:
            o.current.setdefault(op.file.dest.name, op.name)  # a refused name's file stays
            if op.name in refused:
                refusals[op.name] = refused[op.name]
                o.refused.setdefault(op.label, refused[op.name])
            else:
                files.append(replace(op, unlisted=op.file.dest.name not in o.listed))
    # Removals go after the files that stay, in the same change set.
    gone = [op for o in owned.values() if removals for op in _removals(o, reserved or {})]
    return Plan(tuple(resources), (*files, *gone), owned, refusals)


# -- expansion (pure) ------------------------------------------------------------------------


def expand(
    r: TemplateResource, snapshot: Snapshot, reserved: Mapping[str, str] | None = None
) -> tuple[list[FileOp], dict[str, ConfpyError]]:
    """One file per match of `r` in `snapshot`, in name order (pure).

    Returns the files and the refusals, by file name: a match whose name cannot be a
    file name, or whose file another resource writes (`reserved`: path -> owner).
    """
    ops: list[FileOp] = []
    failures: dict[str, ConfpyError] = {}
    for op, error in _children(r, snapshot.values, reserved or {}):
        ops.append(op)
        if error is not None:
            failures[op.name] = error
    return ops, failures


def _children(
    r: TemplateResource, values: Mapping[str, bytes], reserved: Mapping[str, str]
) -> Iterable[tuple[FileOp, ConfpyError | None]]:
    assert r.each is not None
    prefix = r.prefix
    depth = r.each.count("/")
    rx = glob_regex(r.each)
    static_patterns = r.full_keys[: len(r.keys)]
    static = (
        {k: v for k, v in values.items() if matches_any(static_patterns, k)}
        if static_patterns
        else {}
    )
    base = r.full_keys[-1]
    found: dict[str, dict[str, bytes]] = {}
    own_value: dict[str, bytes] = {}
    for key, value in values.items():
        if not (key == base or key.startswith(base.rstrip("/") + "/")):
            continue
        rel = key[len(prefix) :] if prefix else key
        parts = rel.split("/")
        if len(parts) <= depth:
            continue
        candidate = "/".join(parts[: depth + 1])
        if not rx.match(candidate):
            continue
        found.setdefault(candidate, {})[key] = value
        if candidate == rel:
            own_value[candidate] = value
    first_key: dict[str, str] = {}
    for rel in sorted(found):
        name = rel.rsplit("/", 1)[1]
        view = {**static, **found[rel]}
        raw = own_value.get(rel)
        match = EachMatch(
            key=rel,
            name=name,
            value=None if raw is None else raw.decode("utf-8", "surrogateescape"),
            values=view,
        )
        child = _child(r, name, rel)
        if name in first_key:
            # `/services/*/config` names every file `config`: only the first may write it.
            yield (
                FileOp(replace(child, name=f"{r.name}[{rel}]"), r.name, match),
                RenderError(
                    f"key {_absolute(r.prefix, rel)} gives the file name {name!r} as "
                    f"{_absolute(r.prefix, first_key[name])} does; each name must be unique",
                    file=str(r.path),
                ),
            )
            continue
        first_key[name] = rel
        yield FileOp(child, r.name, match), _refusal(r, child, name, rel, reserved)


def _child(r: TemplateResource, name: str, rel: str) -> TemplateResource:
    """The resource of one match's file: its own dest, reading the resource's keys and its match."""
    dest = EACH_NAME.sub(lambda _: name, str(r.dest))
    return replace(r, name=f"{r.name}[{name}]", dest=Path(dest), keys=(*r.keys, rel), each=None)


def _refusal(
    r: TemplateResource, child: TemplateResource, name: str, rel: str, reserved: Mapping[str, str]
) -> ConfpyError | None:
    why = unsafe_name(name)
    if why is None and not stage_fits(child.dest):
        why = f"too long: with its stage file's suffix it passes {NAME_MAX} bytes"
    if why is not None:
        return RenderError(
            f"key {shorten(_absolute(r.prefix, rel))} gives the file name "
            f"{shorten(repr(name))}, which each refuses ({why})",
            file=str(r.path),
        )
    owner = reserved.get(str(child.dest))
    if owner is not None:
        return InstallError(
            f"match {name!r} would overwrite the file of resource {owner}; not written",
            dest=str(child.dest),
        )
    return None


def unsafe_name(name: str) -> str | None:
    """Why a key name cannot be an `each` file name, or None.

    The name becomes a path that commands are given and messages show: never a directory
    step, never something a program reads as an option, never a character that moves a
    terminal's cursor or splits a line (control and format characters, line separators).
    """
    if name in ("", ".", ".."):
        return "empty, '.' or '..'"
    if "/" in name:
        return "it holds '/'"
    if name.startswith("-"):
        return "it starts with '-', which a command would read as an option"
    if escape(name) != name:
        return "it holds a control character (NUL, newline, ESC...)"
    return None


def _absolute(prefix: str, rel: str) -> str:
    return prefix + rel if prefix else rel


# -- ownership: removals, foreign files, manifests (reads the filesystem) --------------------


def _removals(o: Owned, reserved: Reserved) -> Iterable[FileOp]:
    """A removal for each listed file whose match is gone, if it is there to remove."""
    r = o.resource
    for name in sorted(o.listed - set(o.current)):
        path = r.dest.parent / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("cannot inspect a stale each file", resource=r.name, dest=str(path),
                        error=e.strerror)  # fmt: skip
            continue
        if str(path) in reserved.get(r.name, {}):
            log.warning("not removing another resource's file the manifest lists",
                        resource=r.name, dest=str(path))  # fmt: skip
            continue
        if stat.S_ISDIR(st.st_mode):
            log.warning("not removing a directory the manifest lists", resource=r.name,
                        dest=str(path))  # fmt: skip
            continue
        gone = replace(r, name=f"{r.name}[-{name}]", dest=path, each=None)
        o.removals[name] = gone.name
        yield FileOp(gone, r.name, remove=True)


def claim(
    p: Plan, rendered: Mapping[str, bytes], failures: Mapping[str, ConfpyError]
) -> tuple[dict[str, ConfpyError], set[Path]]:
    """Refuse to overwrite a file an `each` resource did not create, unless it is identical.

    Returns the refusals by file name and the files adopted (identical, so now owned).
    """
    refused: dict[str, ConfpyError] = {}
    adopted: set[Path] = set()
    for op in p.files:
        if not op.unlisted or op.name in failures:
            continue
        verdict = _foreign(op, rendered.get(op.name), p.owned[op.parent].resource)
        if verdict is True:
            adopted.add(op.file.dest)
        elif isinstance(verdict, ConfpyError):
            refused[op.name] = verdict
    return refused, adopted


def _foreign(op: FileOp, content: bytes | None, owner: TemplateResource) -> ConfpyError | bool:
    """The refusal, True when the file is there and identical, False when it is absent."""
    dest = op.file.dest
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return False
    except OSError as e:
        return InstallError(f"cannot inspect: {e.strerror}", dest=str(dest))
    if content is not None and stat.S_ISREG(st.st_mode) and st.st_size == len(content):
        with contextlib.suppress(OSError):
            if dest.read_bytes() == content:
                return True
    return InstallError(
        f"exists and was not created by resource {owner.name} "
        f"(not in {manifest_path(owner).name}); remove it to let confpy manage it",
        dest=str(dest),
    )


def finish(
    p: Plan, statuses: Mapping[str, str], adopted: set[Path], *, noop: bool
) -> dict[str, ConfpyError]:
    """Record what each resource now owns; return its problems by resource name.

    `statuses` maps file names to their status after the apply. A match refused before
    rendering is a problem of its resource, whatever the other files did; so is a
    manifest that cannot be written.
    """
    problems: dict[str, ConfpyError] = {}
    for name, o in p.owned.items():
        if o.refused:
            (first, error), more = next(iter(o.refused.items())), len(o.refused) - 1
            problems[name] = EachFileError(first, error, more)
    if noop:
        return problems
    for name, o in p.owned.items():
        directory = o.resource.dest.parent
        owned = set(o.listed) | {f for f in o.current if directory / f in adopted}
        for file, op_name in o.current.items():
            if statuses.get(op_name, "failed") in ("installed", "unchanged"):
                owned.add(file)
        for file, op_name in o.removals.items():
            if statuses.get(op_name, "failed") == "installed":
                owned.discard(file)
        owned = {f for f in owned if os.path.lexists(directory / f)}
        if owned == o.listed and (o.existed or not owned):
            continue
        if not directory.is_dir():
            continue
        try:
            write_manifest(o.resource, owned)
        except InstallError as e:
            problems.setdefault(name, e)
    return problems
