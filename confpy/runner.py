"""Bring resources in line with a snapshot: render, stage, check, install, then reload once.

`apply()` is shared by `render --onetime` and the watch daemon. `run_onetime()` adds the
`--wait-for-keys` loop that replaces `until confd -onetime ...; do sleep 5; done`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from confpy import each
from confpy.errors import (
    CheckFailedError,
    CommandError,
    ConfigProblems,
    ConfpyError,
    InstallError,
    KeysMissingError,
    MissingKeyError,
    ProcessError,
    RenderError,
    StoreUnavailableError,
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
from confpy.keys import select
from confpy.log import get_logger
from confpy.process import describe, run_checked, signal_pidfile, substitute
from confpy.redact import scrub
from confpy.resource import TemplateResource, load_resources
from confpy.snapshot import Snapshot, Store
from confpy.templates import TemplateSet
from confpy.validate import validate_output

log = get_logger("confpy.runner")
T = TypeVar("T")


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


def load_config(confdir: Path, prefix: str = "") -> Config:
    """Load every resource and compile every template; raise ConfigProblems listing all faults."""
    loaded = load_resources(confdir, prefix)
    templates, template_errors = TemplateSet.load(confdir / "templates", loaded.resources)
    problems: list[ConfpyError] = [*loaded.errors, *template_errors]
    if problems:
        raise ConfigProblems(problems)
    return Config(confdir, tuple(loaded.resources), templates)


@dataclass
class Outcome:
    """What happened to one resource in one run."""

    resource: TemplateResource
    status: str = "unchanged"
    """unchanged | installed | pending (noop) | failed"""
    step: str = ""
    """Where it failed: render | stage | check | install | reload."""
    error: ConfpyError | None = None
    diff: str | None = None
    checksum: str = ""
    reload_owed: bool = False
    """Its file was installed (now or earlier) but its reload has not run successfully
    since: deferred by the reload limiter, failed, or blocked by a failure in its change
    set. The daemon runs it again, even though the file will then be unchanged."""
    reload_not_before: float | None = None
    """When the limiter deferred the reload: the limiter's time at which it may run."""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class Report:
    revision: int
    outcomes: list[Outcome] = field(default_factory=list)
    reloads: int = 0
    """Distinct reload actions run (commands, signals, restarts)."""

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.outcomes)

    @property
    def installed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "installed"]


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


class Limiter(Protocol):
    """How often reload actions may run (`confpy.schedule.ReloadLimiter`)."""

    def allowed(self, key: Hashable, interval: float | None = None) -> bool: ...

    def next_allowed(self, key: Hashable, interval: float | None = None) -> float: ...

    def ran(self, key: Hashable) -> None: ...


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
    if p is None:
        return _apply_files(
            resources,
            snapshot,
            rendered,
            failures,
            options,
            atomic=atomic,
            notify=notify,
            owed=owed,
            limiter=limiter,
        )
    report = _apply_files(
        p.resources,
        snapshot,
        rendered,
        {**failures, **p.failures},
        options,
        atomic=atomic,
        notify=notify,
        owed=each.owed_files(p, owed),
        limiter=limiter,
    )
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
            _fail(out, "install", problems[r.name], report.revision)
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
            _fail(outcomes[name], "render", error, snapshot.revision)

    staged: list[Staged] = []
    renamed_into: set[Path] = set()
    previous: dict[str, Staged] = {}  # on_reload_failure = "rollback": the files replaced
    installed: list[TemplateResource] = []
    try:
        for r in resources:
            _stage_one(r, outcomes[r.name], rendered.get(r.name), snapshot, options, staged)
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
    report.reloads = _reload_installed(resources, outcomes, previous, snapshot.revision, limiter)
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
        if not options.sync_only:
            check(s)
    except CheckFailedError as e:
        _fail(o, "check", _scrubbed(e, r, snapshot), snapshot.revision)
    except InstallError as e:
        _fail(o, "stage", e, snapshot.revision)


def _hold_back(staged: list[Staged], outcomes: dict[str, Outcome], revision: int) -> None:
    """An atomic change set with a failure installs nothing: each staged file fails too."""
    culprits = ", ".join(o.resource.name for o in outcomes.values() if o.failed)
    for s in staged:
        o = outcomes[s.resource.name]
        if not o.failed:
            _fail(
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
        _fail(o, "install", e, revision)
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
) -> int:
    """Reload what was installed or owed, rolling back where asked; how many reloads ran."""
    for o in outcomes.values():
        if o.status == "installed":
            o.reload_owed = bool(_reload_actions(o.resource))
    to_reload = [
        r for r in resources if outcomes[r.name].reload_owed and not outcomes[r.name].failed
    ]
    reloads = 0
    if to_reload:
        if previous and limiter is not None:
            # A rollback judges the file just installed: its reload is never deferred.
            limiter = _Unlimited(limiter)
        reloads = _reload_once(to_reload, outcomes, revision, limiter)
        reloads += _roll_back(to_reload, outcomes, previous, revision)
    for backup in previous.values():  # kept for a reload that did not run (deferred)
        discard(backup)
    return reloads


def _reload_once(
    resources: list[TemplateResource],
    outcomes: dict[str, Outcome],
    revision: int,
    limiter: Limiter | None,
) -> int:
    """Run each distinct reload action once, in resource order, after all files are in place.

    Two resources share an action when it is the same command after `{{ dest }}` is
    substituted (a certificate and its key both running `nginx -s reload`), or the same
    signal to the same pidfile. A resource any of whose actions the limiter holds back
    keeps its reload owed, and none of its actions runs now.
    """
    held: set[tuple[str, ...]] = set()
    intervals: dict[tuple[str, ...], float | None] = {}
    if limiter is not None:
        for r in resources:
            for key in reload_keys(r):
                mine = r.min_reload_interval
                other = intervals.get(key)
                intervals[key] = mine if other is None else max(other, mine or 0.0)
        held = {key for key, interval in intervals.items() if not limiter.allowed(key, interval)}
    done: dict[tuple[str, ...], ConfpyError | None] = {}
    for r in resources:
        actions = _reload_actions(r)
        if limiter is not None and any(key in held for key, _ in actions):
            outcomes[r.name].reload_not_before = max(
                limiter.next_allowed(key, intervals[key]) for key, _ in actions if key in held
            )
            log.debug("reload deferred", resource=r.name, revision=revision)
            continue
        for key, action in actions:
            if key not in done:
                if limiter is not None:
                    limiter.ran(key)
                try:
                    action()
                    done[key] = None
                    log.info("reloaded", resource=r.name, action=key[0], revision=revision)
                except (CommandError, ProcessError) as e:
                    done[key] = e
        errors = [done[key] for key, _ in actions if done[key] is not None]
        if errors and errors[0] is not None:
            _fail(outcomes[r.name], "reload", errors[0], revision)
        else:
            outcomes[r.name].reload_owed = False
    return len(done)


class _Unlimited:
    """A limiter that allows every reload now, still telling `inner` what ran."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner

    def allowed(self, key: Hashable, interval: float | None = None) -> bool:
        return True

    def next_allowed(self, key: Hashable, interval: float | None = None) -> float:
        return self.inner.next_allowed(key, interval)

    def ran(self, key: Hashable) -> None:
        self.inner.ran(key)


def _roll_back(
    installed: list[TemplateResource],
    outcomes: dict[str, Outcome],
    previous: dict[str, Staged],
    revision: int,
) -> int:
    """`on_reload_failure = "rollback"`: put back the previous file of every resource whose
    reload failed, then reload those once more. The resource stays failed either way.

    Returns the reload actions run after the rollback.
    """
    restored: list[TemplateResource] = []
    removed: set[str] = set()
    try:
        for r in installed:
            o, backup = outcomes[r.name], previous.pop(r.name, None)
            if backup is None:
                continue
            if not (o.failed and o.step == "reload"):
                discard(backup)
                continue
            try:
                commit(backup)
            except InstallError as e:
                o.error = CommandError(
                    f"{o.error}; rollback failed: {e.reason}", command="rollback"
                )
                log.error("rollback failed", resource=r.name, dest=str(r.dest), error=e.reason)
                continue
            log.warning(
                "reload failed, previous file restored",
                resource=r.name,
                dest=str(r.dest),
                revision=revision,
                removed=backup.remove,
            )
            restored.append(r)
            if backup.remove:
                removed.add(r.name)
    finally:
        for backup in previous.values():
            discard(backup)
    if not restored:
        return 0
    first = {r.name: outcomes[r.name].error for r in restored}
    again = {r.name: Outcome(r) for r in restored}
    count = _reload_once(restored, again, revision, None)  # never deferred: undo now
    for r in restored:
        after = again[r.name].error
        what = (
            "removed the new file (there was none before)"
            if r.name in removed
            else "restored the previous file"
        )
        message = (
            f"{first[r.name]}; {what} and reloaded"
            if after is None
            else f"{first[r.name]}; {what}, and the reload after it failed too: {after}"
        )
        outcomes[r.name].error = CommandError(message, command="rollback")
    return count


def reload_keys(r: TemplateResource) -> list[tuple[str, ...]]:
    """What identifies each of a resource's reload actions: equal keys run once per change set."""
    return [key for key, _ in _reload_actions(r)]


def _reload_actions(r: TemplateResource) -> list[tuple[tuple[str, ...], Callable[[], None]]]:
    actions: list[tuple[tuple[str, ...], Callable[[], None]]] = []
    if r.reload_cmd is not None:
        command = substitute(r.reload_cmd, dest=str(r.dest))
        actions.append((("reload_cmd", describe(command)), lambda: _run(r, command, "reload_cmd")))
    if r.reload_signal and r.pidfile:
        pidfile, signame = r.pidfile, r.reload_signal
        actions.append((("signal", signame, str(pidfile)), lambda: _signal(pidfile, signame)))
    if r.reload_url is not None:  # issue 14: after reload_cmd and the signal, before restart
        url, method = r.reload_url, r.reload_method
        actions.append(
            (("reload_url", method, url), lambda: _request(url, method, r.command_timeout))
        )
    if r.restart_cmd is not None:
        command = substitute(r.restart_cmd, dest=str(r.dest))
        actions.append(
            (("restart_cmd", describe(command)), lambda: _run(r, command, "restart_cmd"))
        )
    return actions


def _request(url: str, method: str, timeout: float) -> None:
    from confpy.reload_http import send

    send(url, method, timeout)


def _signal(pidfile: Path, signame: str) -> None:
    signal_pidfile(pidfile, signame)


def _run(r: TemplateResource, command: str | tuple[str, ...], what: str) -> None:
    run_checked(command, timeout=r.command_timeout, what=what, dest=str(r.dest))


def _scrubbed(error: CheckFailedError, r: TemplateResource, snapshot: Snapshot) -> CheckFailedError:
    """The check failure without the values its command printed.

    A check command may echo the staged file (Logstash prints the configuration around
    an error): the one redaction rule (confpy.redact) holds for its output too. What the
    template itself says stays readable.
    """
    values = {
        k: v.decode("utf-8", "surrogateescape")
        for k, v in select(snapshot.values, r.full_keys).items()
    }
    try:
        public = [r.src.read_text(errors="replace"), *r.keys]
    except OSError:
        public = list(r.keys)
    reason = scrub(error.reason, values, public)
    return error if reason == error.reason else CheckFailedError(reason, dest=error.dest)


def _fail(o: Outcome, step: str, error: ConfpyError, revision: int) -> None:
    o.status, o.step, o.error = "failed", step, error
    fields: dict[str, object] = {
        "resource": o.resource.name,
        "dest": str(o.resource.dest),
        "revision": revision,
        "step": step,
        "error": str(error),
    }
    if isinstance(error, CommandError) and error.status is not None:
        fields["status"] = error.status
        fields["output"] = error.output
    log.error("resource failed", **fields)


def run_onetime(
    config: Config,
    store: Store,
    options: RenderOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Render every resource once; with `wait_for_keys`, retry until etcd and the keys are there."""

    def attempt() -> tuple[Snapshot, dict[str, bytes], dict[str, ConfpyError]]:
        snapshot = store.snapshot(config.patterns)
        rendered, failures = render_all(config, config.resources, snapshot)
        missing = sorted({e.key for e in failures.values() if isinstance(e, MissingKeyError)})
        if missing and options.wait_for_keys > 0:
            raise KeysMissingError(missing)
        return snapshot, rendered, failures

    if options.wait_for_keys > 0:
        snapshot, rendered, failures = retry_until(
            attempt, options.wait_for_keys, sleep=sleep, clock=clock
        )
    else:
        snapshot, rendered, failures = attempt()
    log.debug("snapshot read", revision=snapshot.revision, keys=len(snapshot.values))
    return apply(config.resources, snapshot, rendered, failures, options, atomic=False)


def retry_until(
    fn: Callable[[], T],
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fn` until it succeeds, retrying unavailability and missing keys with backoff.

    The deadline holds: no wait runs past `timeout` seconds after the first call, the
    last attempt is made at the deadline, and then the last error is raised.
    """
    import tenacity

    from confpy.backoff import WAITING_FOR_ETCD, retrying

    def say(error: BaseException, wait: float) -> None:
        if isinstance(error, KeysMissingError):
            log.warning("waiting for keys", missing=error.keys, retry_in=round(wait, 2))
        else:
            log.warning("waiting for etcd", error=str(error), retry_in=round(wait, 2))

    retry = retrying(
        WAITING_FOR_ETCD,
        retry_on=(StoreUnavailableError, KeysMissingError),
        stop=tenacity.stop_never,
        sleep=sleep,
        on_retry=say,
        deadline=clock() + timeout,
        clock=clock,
    )
    return retry(fn)
