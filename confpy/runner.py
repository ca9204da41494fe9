"""Bring resources in line with a snapshot: render, stage, check, install, then reload once.

`apply()` is shared by `render --onetime` (`confpy.onetime`) and the watch daemon; the
reload actions it runs live in `confpy.reloads`, what it reports in `confpy.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from confpy import each
from confpy.command_output import CommandOutput
from confpy.errors import (
    CheckFailedError,
    ConfigProblems,
    ConfpyError,
    InstallError,
    RenderError,
)
from confpy.installer import (
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
from confpy.log import get_logger
from confpy.reloads import Limiter, Unlimited, reload_actions, reload_once, roll_back
from confpy.report import Outcome, Report, fail
from confpy.resource import TemplateResource, load_resources
from confpy.snapshot import Snapshot
from confpy.templates import TemplateSet
from confpy.validate import validate_output

log = get_logger("confpy.runner")


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


def render_all(
    config: Config, resources: Iterable[TemplateResource], snapshot: Snapshot
) -> tuple[dict[str, bytes], dict[str, ConfpyError]]:
    """Render each resource; return contents and failures by resource name.

    Each resource is rendered inside its own boundary (`confpy.templates`): whatever one
    raises fails that resource alone, with a one-line message that carries no value.
    """
    rendered: dict[str, bytes] = {}
    resources, failures = each.expand(list(resources), snapshot)  # one per match (issue 14)
    for r in resources:
        if r.name in failures:
            continue
        try:
            content = config.templates.render(r, each.render_snapshot(r, snapshot))
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
"""Called with the resources a change set installed, after their reload commands ran."""


def apply(
    resources: Sequence[TemplateResource],
    snapshot: Snapshot,
    rendered: dict[str, bytes],
    failures: dict[str, ConfpyError],
    options: RenderOptions,
    *,
    atomic: bool,
    notify: Notifier | None = None,
    owed: Collection[str] = (),
    limiter: Limiter | None = None,
) -> Report:
    """Install what changed; reload each distinct command once, after every file is in place.

    `each` resources (issue 14) are applied as their per-file resources plus the removal
    of files whose match is gone, in the same change set; the report folds them back into
    one outcome per resource, so callers (retries, health) see the resources they know.
    """
    p = each.plan(resources, snapshot, rendered, failures)
    files, file_failures, file_owed = (
        (resources, failures, owed)
        if p is None
        else (p.resources, {**failures, **p.failures}, each.owed_files(p, owed))
    )
    report = _apply_files(
        files,
        snapshot,
        rendered,
        file_failures,
        options,
        atomic=atomic,
        notify=notify,
        owed=file_owed,
        limiter=limiter,
    )
    if p is None:
        return report
    by_file = {o.resource.name: (o.status, o.error) for o in report.outcomes}
    problems = each.finish(p, by_file, noop=options.noop)
    return _fold(resources, report, problems)


def _fold(
    resources: Sequence[TemplateResource], report: Report, problems: dict[str, ConfpyError]
) -> Report:
    """One outcome per configured resource: the first failing file speaks for an `each` one."""
    files: dict[str, list[Outcome]] = {}
    for o in report.outcomes:
        parent = o.resource.each_match.parent if o.resource.each_match else o.resource.name
        files.setdefault(parent, []).append(o)
    folded = Report(report.revision, reloads=report.reloads)
    for r in resources:
        group = files.get(r.name, [])
        if r.each is None or r.each_match is not None:
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
            out.error = each.EachFileError(each.label(first.resource), first.error, len(failed) - 1)
        elif r.name in problems:
            fail(out, "install", problems[r.name], report.revision)
        elif any(o.status == "installed" for o in group):
            out.status = "installed"
        elif any(o.status == "pending" for o in group):
            out.status = "pending"
            out.diff = "".join(o.diff or "" for o in group)
        folded.outcomes.append(out)
    return folded


def _apply_files(
    resources: Sequence[TemplateResource],
    snapshot: Snapshot,
    rendered: dict[str, bytes],
    failures: dict[str, ConfpyError],
    options: RenderOptions,
    *,
    atomic: bool,
    notify: Notifier | None = None,
    owed: Collection[str] = (),
    limiter: Limiter | None = None,
) -> Report:
    """Install what changed; reload each distinct command once, after every file is in place.

    With `atomic`, the resources form one change set: if any fails to render, stage or
    pass its check, none is installed, so a process never sees a new certificate with an
    old key. Without it, a failing resource never stops the others.

    Resources named in `owed` are reloaded even when their file is already current (an
    earlier reload failed or was deferred). With a `limiter`, a reload action that ran
    too recently is deferred: the file is installed now, and the outcome says
    `reload_owed`.
    """
    report = Report(snapshot.revision)
    outcomes = {r.name: Outcome(r) for r in resources}
    report.outcomes = list(outcomes.values())
    if not options.sync_only and not options.noop:
        for name in owed:
            if name in outcomes:
                outcomes[name].reload_owed = True
    for name, error in failures.items():
        if name in outcomes:
            fail(outcomes[name], "render", error, snapshot.revision)

    staged: list[Staged] = []
    output = CommandOutput(snapshot)  # what check and reload output must not show
    renamed_into: set[Path] = set()
    previous: dict[str, Staged] = {}  # on_reload_failure = "rollback": the files replaced
    installed: list[TemplateResource] = []
    try:
        for r in resources:
            _stage_one(r, outcomes[r.name], rendered.get(r.name), snapshot, options, staged, output)
        if atomic and any(o.failed for o in outcomes.values()):
            _hold_back(staged, outcomes, snapshot.revision)
            return report
        for s in staged:
            if _commit_one(s, outcomes[s.resource.name], options, previous, snapshot.revision):
                renamed_into.add(s.resource.dest.parent)
                installed.append(s.resource)
    finally:
        _tidy_up(staged, outcomes, renamed_into, options)

    if options.sync_only:
        return report
    report.reloads = _reload_installed(
        resources, outcomes, previous, snapshot.revision, limiter, output
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
        elif options.keep_stage_file:
            s.kept = True


def _stage_one(
    r: TemplateResource,
    o: Outcome,
    rendered: bytes | None,
    snapshot: Snapshot,
    options: RenderOptions,
    staged: list[Staged],
    output: CommandOutput,
) -> None:
    """Stage (and check) one resource's file unless it is current; a failure goes in `o`."""
    if o.failed:
        return
    try:
        if each.is_removal(r):  # an `each` file whose match is gone (issue 14)
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
