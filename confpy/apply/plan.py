"""A change set as a plan of file operations: which files to render and install, which to remove.

`confpy.apply.each.plan` builds one per change set, before anything is rendered: a plain
resource is one file; an `each` resource is one file per match plus the removal of each
file whose match is gone. The runner renders, installs and removes what the plan says
and `Plan.fold` folds the files' outcomes back into one outcome per configured resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from confpy.apply.report import Outcome, Report, fail
from confpy.config.resource import EachMatch, TemplateResource
from confpy.errors import ConfpyError, EachFileError
from confpy.store.snapshot import Snapshot


@dataclass(frozen=True)
class FileOp:
    """One file of a change set: render it and install it, or remove it."""

    file: TemplateResource
    """The file's resource: the configured one, or for a file of an `each` resource one
    derived from it (named `NAME[match]`, or `NAME[-file]` for a removal, with the file's
    own dest), so staging, checks, reloads and outcomes name and treat it as a resource."""
    parent: str
    """The configured resource this file's outcome folds into."""
    match: EachMatch | None = None
    """What a file of an `each` resource renders: its match and the keys it may read."""
    remove: bool = False
    """Remove the file: it belongs to an `each` resource and its match is gone."""
    unlisted: bool = False
    """A file of an `each` resource its manifest does not list: installed only over no
    file or an identical one (`confpy.apply.each.claim`)."""

    @property
    def name(self) -> str:
        return self.file.name

    def reads(self, snapshot: Snapshot) -> Snapshot:
        """What the file renders from: a match's file reads its match and its resource's keys."""
        return snapshot if self.match is None else Snapshot(snapshot.revision, self.match.values)

    @property
    def label(self) -> str:
        """How messages name a file of an `each` resource: `each api` or `removing x`."""
        if self.remove:
            return f"removing {self.file.dest.name}"
        return f"each {self.match.name}" if self.match is not None else self.file.name


@dataclass
class Owned:
    """One `each` resource's manifest as read when its change set was planned."""

    resource: TemplateResource
    listed: set[str]
    existed: bool
    current: dict[str, str] = field(default_factory=dict)
    """File name -> its operation's name, for every match in this snapshot."""
    removals: dict[str, str] = field(default_factory=dict)
    """File name -> its removal's name."""
    refused: dict[str, ConfpyError] = field(default_factory=dict)
    """Label of a match -> why it cannot be a file: kept out of the change set."""


@dataclass(frozen=True)
class Plan:
    """One change set: its configured resources and the file operations they expand to."""

    resources: tuple[TemplateResource, ...]
    files: tuple[FileOp, ...]
    """Files to render and install in resource order, then removals."""
    owned: dict[str, Owned] = field(default_factory=dict)
    """By `each` resource name: what its manifest lists and what this change set does."""
    refused: dict[str, ConfpyError] = field(default_factory=dict)
    """Matches refused before rendering, by file name: kept out of the change set."""

    @property
    def renders(self) -> list[FileOp]:
        return [op for op in self.files if not op.remove]

    def ops(self) -> dict[str, FileOp]:
        return {op.name: op for op in self.files}

    def fold(self, report: Report, problems: Mapping[str, ConfpyError]) -> Report:
        """One outcome per configured resource from the files' outcomes: the first failing
        file speaks for an `each` resource; `problems` are its own (`confpy.apply.each.finish`)."""
        ops = self.ops()
        files: dict[str, list[Outcome]] = {}
        for o in report.outcomes:
            files.setdefault(ops[o.resource.name].parent, []).append(o)
        folded = Report(report.revision, reloads=report.reloads)
        for r in self.resources:
            group = files.get(r.name, [])
            if r.each is None:
                folded.outcomes.extend(group)
                continue
            out = Outcome(r)
            out.reload_owed = any(o.reload_owed for o in group)
            deferred = [o.reload_not_before for o in group if o.reload_not_before is not None]
            out.reload_not_before = max(deferred) if deferred else None
            failed = [o for o in group if o.failed]
            if failed:
                first = failed[0]
                assert first.error is not None
                out.status, out.step = "failed", first.step
                label = ops[first.resource.name].label
                out.error = EachFileError(label, first.error, len(failed) - 1)
            elif r.name in problems:
                fail(out, "install", problems[r.name], report.revision)
            elif any(o.status == "installed" for o in group):
                out.status = "installed"
            elif any(o.status == "pending" for o in group):
                out.status = "pending"
                out.diff = "".join(o.diff or "" for o in group)
            folded.outcomes.append(out)
        return folded
