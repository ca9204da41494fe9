"""Bring resources in line with a snapshot: plan, render, stage, check, install, reload once.

A change set is planned once (`plan_change_set`: the files to render, install and
remove, `confpy.apply.plan`), rendered (`render_all`), then executed by `apply()`, shared by
`render --onetime` (`confpy.apply.onetime`) and the watch daemon. The reload actions it runs
live in `confpy.apply.reloads`, what it reports in `confpy.apply.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from confpy.apply import each
from confpy.apply import guard as slot_guard
from confpy.apply.command_output import CommandOutput
from confpy.apply.installer import (
    Staged,
    check,
    check_min_bytes,
    commit,
    desired_state,
    diff,
    discard,
    is_current,
    keep_previous,
    removal_diff,
    stage,
    stage_removal,
    sync_directories,
)
from confpy.apply.plan import FileOp, Plan
from confpy.apply.reloads import Limiter, Unlimited, reload_actions, reload_once, roll_back
from confpy.apply.report import Outcome, Report, fail
from confpy.config.resource import TemplateResource, load_resources
from confpy.errors import (
    CheckFailedError,
    ConfigProblems,
    ConfpyError,
    InstallError,
    RenderError,
)
from confpy.log import get_logger
from confpy.render.templates import TemplateSet
from confpy.render.validate import validate_output
from confpy.store.snapshot import Snapshot

log = get_logger(__name__)


@dataclass(frozen=True)
class RenderOptions:
    noop: bool = False
    sync_only: bool = False
    keep_stage_file: bool = False
    wait_for_keys: float = 0.0


@dataclass(frozen=True)
class Config:
    """The loaded resources and their compiled templates: replaced whole on SIGHUP."""

    confdir: Path
    resources: tuple[TemplateResource, ...]
    templates: TemplateSet

    @property
    def patterns(self) -> list[str]:
        return sorted({k for r in self.resources for k in r.full_keys})

    @cached_property
    def reserved(self) -> dict[str, dict[str, str]]:
        """By `each` resource: the other resources' dests it must never write."""
        return each.reserved_dests(self.resources)


def load_config(
    confdir: Path, prefix: str = "", warn: Callable[[str], None] | None = None
) -> Config:
    """Load every resource and compile every template; raise ConfigProblems listing all faults.

    What loading let pass (an unknown field...) goes to `warn`, one line each: by default
    the log, once per load."""
    loaded = load_resources(confdir, prefix)
    for resource in loaded.resources:
        for warning in resource.warnings:
            if warn is None:
                log.warning(warning, resource=resource.name)
            else:
                warn(warning)
    templates, template_errors = TemplateSet.load(confdir / "templates", loaded.resources)
    problems: list[ConfpyError] = [*loaded.errors, *template_errors]
    if problems:
        raise ConfigProblems(problems)
    return Config(confdir, tuple(loaded.resources), templates)


def plan_change_set(
    config: Config,
    resources: Iterable[TemplateResource],
    snapshot: Snapshot,
    *,
    removals: bool = True,
) -> Plan:
    """The files a change set renders, installs and removes (`confpy.apply.each.plan`), planned
    once per change set, before anything renders."""
    return each.plan(list(resources), snapshot, config.reserved, removals=removals)


def render_all(
    config: Config, plan: Plan, snapshot: Snapshot
) -> tuple[dict[str, bytes], dict[str, ConfpyError]]:
    """Render each file of the plan; return contents and failures by file name.

    Each file is rendered inside its own boundary (`confpy.render.templates`): whatever one
    raises fails that file alone, with a one-line message that carries no value.
    """
    rendered: dict[str, bytes] = {}
    failures: dict[str, ConfpyError] = {}
    for op in plan.renders:
        r = op.file
        try:
            content = config.templates.render(r, op.reads(snapshot), op.match)
            if r.validate:
                validate_output(content, r.validate, file=str(r.src))
            check_min_bytes(r, content)
            rendered[r.name] = content
        except ConfpyError as e:
            failures[r.name] = e
        except Exception as e:  # e.g. a YAML validator recursing on output nested too deep
            failures[r.name] = RenderError(
                f"{type(e).__name__} while checking the rendered output", file=str(r.src)
            )
    return rendered, failures


Notifier = Callable[[list[TemplateResource]], None]
"""Called with the files' resources a change set installed, after their reloads ran."""


def apply(
    plan: Plan,
    snapshot: Snapshot,
    rendered: dict[str, bytes],
    failures: dict[str, ConfpyError],
    options: RenderOptions,
    *,
    atomic: bool,
    notify: Notifier | None = None,
    owed: Collection[str] = (),
    limiter: Limiter | None = None,
    guard: slot_guard.Guard | None = None,
) -> Report:
    """Execute a change set's plan: install what changed, remove what the plan removes, then
    reload each distinct command once, after every file is in place.

    `guard` (fleet reload slots) is held from the first install to the last reload.
    The report has one outcome per configured resource: the files of an `each` resource
    (issue 14) fold into its one outcome, so callers (retries, health) see the resources
    they know. `owed` names configured resources.
    """
    refused, adopted = each.claim(plan, rendered, failures)
    pace = _Pace(atomic, notify, owed, limiter, guard)
    report = _apply_files(plan, snapshot, rendered, {**failures, **refused}, options, pace)
    statuses = {o.resource.name: o.status for o in report.outcomes}
    return plan.fold(report, each.finish(plan, statuses, adopted, noop=options.noop))


class _Pace(NamedTuple):
    """How `apply` was asked to go about a change set (its keyword arguments, passed on)."""

    atomic: bool
    notify: Notifier | None
    owed: Collection[str]
    limiter: Limiter | None
    guard: slot_guard.Guard | None


def _apply_files(
    plan: Plan,
    snapshot: Snapshot,
    rendered: dict[str, bytes],
    failures: dict[str, ConfpyError],
    options: RenderOptions,
    pace: _Pace,
) -> Report:
    """Install what changed; reload each distinct command once, after every file is in place.

    With `atomic`, the files form one change set: if any fails to render, stage or pass
    its check, none is installed, so a process never sees a new certificate with an old
    key. Without it, a failing file never stops the others.

    Files of resources named in `owed` are reloaded even when already current (an
    earlier reload failed or was deferred). With a `limiter`, a reload action that ran
    too recently is deferred: the file is installed now, and the outcome says
    `reload_owed`.
    """
    atomic, notify, owed, limiter, guard = pace
    report = Report(snapshot.revision)
    outcomes = {op.name: Outcome(op.file) for op in plan.files}
    report.outcomes = list(outcomes.values())
    if not options.sync_only and not options.noop:
        for op in plan.files:
            if op.parent in owed or op.name in owed:
                outcomes[op.name].reload_owed = True
    for name, error in failures.items():
        if name in outcomes:
            fail(outcomes[name], "render", error, snapshot.revision)

    staged: list[Staged] = []
    output = CommandOutput(snapshot)  # what check and reload output must not show
    renamed_into: set[Path] = set()
    previous: dict[str, Staged] = {}  # on_reload_failure = "rollback": the files replaced
    installed: list[TemplateResource] = []
    files = [op.file for op in plan.files]
    with ExitStack() as held:  # the guard, from the first install to the last reload
        try:
            for op in plan.files:
                _stage_one(
                    op, outcomes[op.name], rendered.get(op.name), snapshot, options, staged, output
                )
            if atomic and any(o.failed for o in outcomes.values()):
                _hold_back(staged, outcomes, snapshot.revision)
                return report
            slot = slot_guard.enter(held, guard, files, staged, outcomes, snapshot.revision)
            for s in staged if slot is not None else ():
                if _commit_one(s, outcomes[s.resource.name], options, previous, snapshot.revision):
                    renamed_into.add(s.resource.dest.parent)
                    installed.append(s.resource)
        finally:
            _tidy_up(staged, outcomes, renamed_into, options)
        if options.sync_only or slot is None:
            return report
        if slot and limiter is not None:
            limiter = Unlimited(limiter)  # the slot paces these reloads, not the limiter
        report.reloads = _reload_installed(
            files, outcomes, previous, snapshot.revision, limiter, output
        )
        if installed and notify is not None:
            notify(installed)
    return report


def _tidy_up(
    staged: list[Staged],
    outcomes: dict[str, Outcome],
    renamed_into: set[Path],
    options: RenderOptions,
) -> None:
    """Sync the directories renamed into; remove (or keep, if asked) every stage file left."""
    # Durable before any reload reads them, and before a crash could lose them.
    sync_directories(renamed_into)
    for s in staged:
        if outcomes[s.resource.name].status != "installed":
            discard(s, keep=options.keep_stage_file)


def _stage_one(
    op: FileOp,
    o: Outcome,
    rendered: bytes | None,
    snapshot: Snapshot,
    options: RenderOptions,
    staged: list[Staged],
    output: CommandOutput,
) -> None:
    """Stage (and check) one file unless it is current; a failure goes in `o`."""
    if o.failed:
        return
    r = op.file
    try:
        if op.remove:  # an `each` file whose match is gone (issue 14)
            if options.noop:
                o.status, o.diff = "pending", removal_diff(r)
            else:
                staged.append(stage_removal(r))
            return
        assert rendered is not None  # every resource that did not fail was rendered
        desired = desired_state(r, rendered)
        o.checksum = desired.checksum
        if is_current(r, desired):
            return
        if options.noop:
            o.status, o.diff = "pending", diff(r, desired)
            return
        s = stage(r, desired)
        staged.append(s)
        output.staged(r, desired.content, desired.mode)
        if not options.sync_only:
            check(s)
    except CheckFailedError as e:
        fail(o, "check", output.check_failed(e, r), snapshot.revision)
    except InstallError as e:
        fail(o, "stage", e, snapshot.revision)


def _hold_back(staged: list[Staged], outcomes: dict[str, Outcome], revision: int) -> None:
    """An atomic change set with a failure installs nothing: each staged file fails too."""
    culprits = ", ".join(o.resource.name for o in outcomes.values() if o.failed)
    for s in staged:
        o = outcomes[s.resource.name]
        if not o.failed:
            fail(
                o,
                "check",
                InstallError(
                    f"not installed: {culprits} in the same change set failed",
                    dest=str(s.resource.dest),
                ),
                revision,
            )


def _commit_one(
    s: Staged, o: Outcome, options: RenderOptions, previous: dict[str, Staged], revision: int
) -> bool:
    """Rename one staged file into place (keeping the old one for a rollback); True if done."""
    if o.failed:
        return False
    try:
        if s.resource.on_reload_failure == "rollback" and not options.sync_only:
            previous[s.resource.name] = keep_previous(s.resource)
        commit(s, sync_dir=False)
    except InstallError as e:
        fail(o, "install", e, revision)
        return False
    o.status = "installed"
    if s.remove:  # an `each` file whose match is gone
        log.info("removed", resource=s.resource.name, dest=str(s.resource.dest),
                 revision=revision)  # fmt: skip
        return True
    log.info(
        "installed",
        resource=s.resource.name,
        dest=str(s.resource.dest),
        revision=revision,
        checksum=s.desired.checksum,
        mode=f"{s.desired.mode:04o}",
    )
    return True


def _reload_installed(
    resources: Sequence[TemplateResource],
    outcomes: dict[str, Outcome],
    previous: dict[str, Staged],
    revision: int,
    limiter: Limiter | None,
    output: CommandOutput,
) -> int:
    """Reload what was installed or owed, rolling back where asked; how many reloads ran.

    What a reload command prints is scrubbed of every file of the change set first."""
    for o in outcomes.values():
        if o.status == "installed":
            o.reload_owed = bool(reload_actions(o.resource))
    to_reload = [
        r for r in resources if outcomes[r.name].reload_owed and not outcomes[r.name].failed
    ]
    reloads = 0
    if to_reload:
        if previous and limiter is not None:
            # A rollback judges the file just installed: its reload is never deferred.
            limiter = Unlimited(limiter)
        scrub = output.scrub_for(to_reload)
        reloads = reload_once(to_reload, outcomes, revision, limiter, scrub)
        reloads += roll_back(to_reload, outcomes, previous, revision, scrub)
    for backup in previous.values():  # kept for a reload that did not run (deferred)
        discard(backup)
    return reloads
