"""One template to many files: expand `each` resources per snapshot, and own their files.

An `each` resource renders once per key or key directory matching its glob. Each match
becomes an ordinary per-file `TemplateResource` named `NAME[match]`, so rendering,
staging, `check_cmd`, change sets, reloads and retries treat it like any resource, and
the runner folds the per-file outcomes back into one outcome for `NAME`.

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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from confpy.each_manifest import manifest_path, read_manifest, write_manifest
from confpy.errors import ConfpyError, InstallError, RenderError
from confpy.installer import NAME_MAX, stage_fits
from confpy.keyfuncs import glob_regex
from confpy.keys import matches_any
from confpy.log import escape, get_logger
from confpy.resource import EachMatch, TemplateResource
from confpy.resource_fields import EACH_NAME
from confpy.snapshot import Snapshot

log = get_logger("confpy.each")


class EachFileError(ConfpyError):
    """One file of an `each` resource failed; carries the file's own error."""

    def __init__(self, label: str, error: ConfpyError, more: int = 0) -> None:
        extra = f" (and {more} more of its files failed)" if more else ""
        super().__init__(f"{label}: {error}{extra}")
        self.error = error


def is_removal(resource: TemplateResource) -> bool:
    """A per-file resource standing for a file whose match disappeared."""
    return resource.each_match is not None and resource.each_match.remove


def render_snapshot(resource: TemplateResource, snapshot: Snapshot) -> Snapshot:
    """What a per-file resource renders from: its match and the resource's keys only."""
    if resource.each_match is None:
        return snapshot
    return Snapshot(snapshot.revision, resource.each_match.values)


# -- expansion (pure) ------------------------------------------------------------------------


def expand(
    resources: Sequence[TemplateResource], snapshot: Snapshot
) -> tuple[list[TemplateResource], dict[str, ConfpyError]]:
    """Replace each `each` resource by one resource per match, in name order.

    Returns the resources and the failures known before rendering: a match whose name
    cannot be a file name, or whose file another resource writes.
    """
    out: list[TemplateResource] = []
    failures: dict[str, ConfpyError] = {}
    for r in resources:
        if r.each is None or r.each_match is not None:
            out.append(r)
            continue
        for child, error in _children(r, snapshot.values):
            out.append(child)
            if error is not None:
                failures[child.name] = error
    return out, failures


def _children(
    r: TemplateResource, values: Mapping[str, bytes]
) -> Iterable[tuple[TemplateResource, ConfpyError | None]]:
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
            parent=r.name,
            key=rel,
            name=name,
            value=None if raw is None else raw.decode("utf-8", "surrogateescape"),
            values=view,
        )
        child = _child(r, name, match, rel)
        if name in first_key:
            # `/services/*/config` names every file `config`: only the first may write it.
            child = replace(child, name=f"{r.name}[{rel}]")
            yield (
                child,
                RenderError(
                    f"key {_absolute(r.prefix, rel)} gives the file name {name!r} as "
                    f"{_absolute(r.prefix, first_key[name])} does; each name must be unique",
                    file=str(r.path),
                ),
            )
            continue
        first_key[name] = rel
        yield child, _refusal(r, child, name, rel)


def _child(r: TemplateResource, name: str, match: EachMatch, rel: str) -> TemplateResource:
    dest = EACH_NAME.sub(lambda _: name, str(r.dest))
    return replace(
        r,
        name=f"{r.name}[{name}]",
        dest=Path(dest),
        keys=(*r.keys, rel),
        each_match=match,
    )


def _refusal(
    r: TemplateResource, child: TemplateResource, name: str, rel: str
) -> ConfpyError | None:
    why = unsafe_name(name)
    if why is None and not stage_fits(child.dest):
        why = f"too long: with its stage file's suffix it passes {NAME_MAX} bytes"
    if why is not None:
        return RenderError(
            f"key {escape(_absolute(r.prefix, rel))} gives the file name {name!r}, which each "
            f"refuses ({why})",
            file=str(r.path),
        )
    owner = r.each_reserved.get(str(child.dest))
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


# -- ownership: manifests, removals, foreign files (reads the filesystem) --------------------


@dataclass
class _Owned:
    """One `each` resource's manifest as read before an apply."""

    resource: TemplateResource
    listed: set[str]
    existed: bool
    current: dict[str, TemplateResource] = field(default_factory=dict)
    """File name -> per-file resource, for every match in this snapshot."""
    removals: dict[str, TemplateResource] = field(default_factory=dict)
    adopted: set[str] = field(default_factory=set)
    refused: dict[str, ConfpyError] = field(default_factory=dict)
    """`label` of a match -> why it cannot be a file: kept out of the change set."""


@dataclass
class Plan:
    """What `apply` installs for a group that holds `each` resources, and how to fold it."""

    resources: list[TemplateResource]
    failures: dict[str, ConfpyError]
    owned: dict[str, _Owned]


def plan(
    resources: Sequence[TemplateResource],
    snapshot: Snapshot,
    rendered: Mapping[str, bytes],
    failures: Mapping[str, ConfpyError],
) -> Plan | None:
    """Expand `each` resources, add removals of files whose match is gone, refuse foreign
    files. None when the group holds no `each` resource.

    A match refused before rendering (its name, or another resource's file) stays out of
    the change set: a key name nobody can fix by waiting never holds back the other files
    (under `--watch` a change set installs all or nothing). `finish` reports it.
    """
    if not any(r.each is not None and r.each_match is None for r in resources):
        return None
    expanded, refused = expand(resources, snapshot)
    extra: dict[str, ConfpyError] = {}
    owned = {
        r.name: _Owned(r, *read_manifest(r))
        for r in resources
        if r.each is not None and r.each_match is None
    }
    for r in expanded:
        o = owned.get(r.each_match.parent) if r.each_match is not None else None
        if o is None:
            continue
        o.current.setdefault(r.dest.name, r)  # a refused name's file, if any, is not removed
        if r.name in refused:
            o.refused.setdefault(label(r), refused[r.name])
            continue
        if r.name in failures or r.dest.name in o.listed:
            continue
        error = _foreign(r, rendered.get(r.name), o)
        if error is not None:
            extra[r.name] = error
    # Removals go after the files that stay, in the same change set.
    removals = [removal for o in owned.values() for removal in _removals(o)]
    kept = [r for r in expanded if r.name not in refused]
    return Plan([*kept, *removals], extra, owned)


def _removals(o: _Owned) -> Iterable[TemplateResource]:
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
        if str(path) in r.each_reserved:
            log.warning("not removing another resource's file the manifest lists",
                        resource=r.name, dest=str(path))  # fmt: skip
            continue
        if stat.S_ISDIR(st.st_mode):
            log.warning("not removing a directory the manifest lists", resource=r.name,
                        dest=str(path))  # fmt: skip
            continue
        match = EachMatch(parent=r.name, key="", name=name, value=None, remove=True)
        o.removals[name] = replace(r, name=f"{r.name}[-{name}]", dest=path, each_match=match)
        yield o.removals[name]


def _foreign(r: TemplateResource, content: bytes | None, o: _Owned) -> ConfpyError | None:
    """Refuse to overwrite a file this resource did not create, unless it is identical."""
    try:
        st = os.lstat(r.dest)
    except FileNotFoundError:
        return None
    except OSError as e:
        return InstallError(f"cannot inspect: {e.strerror}", dest=str(r.dest))
    if content is not None and stat.S_ISREG(st.st_mode) and st.st_size == len(content):
        with contextlib.suppress(OSError):
            if r.dest.read_bytes() == content:
                o.adopted.add(r.dest.name)
                return None
    return InstallError(
        f"exists and was not created by resource {o.resource.name} "
        f"(not in {manifest_path(o.resource).name}); remove it to let confpy manage it",
        dest=str(r.dest),
    )


def finish(
    p: Plan, outcomes: Mapping[str, tuple[str, ConfpyError | None]], *, noop: bool
) -> dict[str, ConfpyError]:
    """Record what each resource now owns; return manifest write failures by resource name.

    `outcomes` maps per-file resource names to (status, error) after the apply. A match
    refused before rendering is a problem of its resource, whatever the other files did.
    """
    problems: dict[str, ConfpyError] = {}
    for name, o in p.owned.items():
        if o.refused:
            (first, error), more = next(iter(o.refused.items())), len(o.refused) - 1
            problems[name] = EachFileError(first, error, more)
    if noop:
        return problems
    for name, o in p.owned.items():
        owned = set(o.listed) | o.adopted
        for file, child in o.current.items():
            status, _ = outcomes.get(child.name, ("failed", None))
            if status in ("installed", "unchanged"):
                owned.add(file)
        for file, removal in o.removals.items():
            if outcomes.get(removal.name, ("failed", None))[0] == "installed":
                owned.discard(file)
        owned = {f for f in owned if os.path.lexists(o.resource.dest.parent / f)}
        if owned == o.listed and (o.existed or not owned):
            continue
        if not o.resource.dest.parent.is_dir():
            continue
        try:
            write_manifest(o.resource, owned)
        except InstallError as e:
            problems.setdefault(name, e)
    return problems


def owed_files(p: Plan, owed: Collection[str]) -> set[str]:
    """The daemon owes reloads by configured name: an `each` resource owes all its files'."""
    names = set(owed)
    for r in p.resources:
        if r.each_match is not None and r.each_match.parent in names:
            names.add(r.name)
    return names


def label(child: TemplateResource) -> str:
    """How a file of an `each` resource is named in messages: `each api` or `removal of x`."""
    m = child.each_match
    if m is None:
        return child.name
    return f"removing {m.name}" if m.remove else f"each {m.name}"
