"""Reload actions: each distinct one once per change set, rate-limited, rolled back on failure.

A resource's actions (`reload_cmd`, a signal to a pidfile, `reload_url`, `restart_cmd`)
are identified by keys (`reload_keys`): resources with equal keys share the action, which
runs once, after every file of the change set is in place. A `Limiter` may hold an action
back (the outcome then says when it may run); `on_reload_failure = "rollback"` puts the
previous file back and reloads again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Protocol

from confpy.apply.installer import Staged, commit, discard
from confpy.apply.report import Outcome, fail
from confpy.config.commands import Prepared, prepare
from confpy.config.resource import TemplateResource
from confpy.errors import CommandError, ConfigError, ConfpyError, InstallError, ProcessError
from confpy.log import get_logger
from confpy.supervise.process import run_checked, signal_pidfile

log = get_logger(__name__)


Scrub = Callable[[ConfpyError], ConfpyError]
"""Makes a failed reload's error safe to show (`confpy.apply.command_output`)."""


def _as_is(error: ConfpyError) -> ConfpyError:
    return error


class Limiter(Protocol):
    """How often reload actions may run (`confpy.watch.schedule.ReloadLimiter`)."""

    def allowed(self, key: Hashable, interval: float | None = None) -> bool: ...

    def next_allowed(self, key: Hashable, interval: float | None = None) -> float: ...

    def ran(self, key: Hashable) -> None: ...


def reload_once(
    resources: list[TemplateResource],
    outcomes: dict[str, Outcome],
    revision: int,
    limiter: Limiter | None,
    scrub: Scrub = _as_is,
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
        actions = reload_actions(r)
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
                    done[key] = scrub(e)  # before it is logged: output may echo the file
        errors = [done[key] for key, _ in actions if done[key] is not None]
        if errors and errors[0] is not None:
            fail(outcomes[r.name], "reload", errors[0], revision)
        else:
            outcomes[r.name].reload_owed = False
    return len(done)


class Unlimited:
    """A limiter that allows every reload now, still telling `inner` what ran."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner

    def allowed(self, key: Hashable, interval: float | None = None) -> bool:
        return True

    def next_allowed(self, key: Hashable, interval: float | None = None) -> float:
        return self.inner.next_allowed(key, interval)

    def ran(self, key: Hashable) -> None:
        self.inner.ran(key)


def roll_back(
    installed: list[TemplateResource],
    outcomes: dict[str, Outcome],
    previous: dict[str, Staged],
    revision: int,
    scrub: Scrub = _as_is,
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
    count = reload_once(restored, again, revision, None, scrub)  # never deferred: undo now
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
    return [key for key, _ in reload_actions(r)]


def reload_actions(r: TemplateResource) -> list[tuple[tuple[str, ...], Callable[[], None]]]:
    actions: list[tuple[tuple[str, ...], Callable[[], None]]] = []
    if r.reload_cmd is not None:
        command = _prepared(r, r.reload_cmd, "reload_cmd")
        actions.append((("reload_cmd", _shown(command)), lambda: _run(r, command, "reload_cmd")))
    if r.reload_signal and r.pidfile:
        pidfile, signame = r.pidfile, r.reload_signal
        actions.append((("signal", signame, str(pidfile)), lambda: _signal(pidfile, signame)))
    if r.reload_url is not None:  # issue 14: after reload_cmd and the signal, before restart
        url, method = r.reload_url, r.reload_method
        actions.append(
            (("reload_url", method, url), lambda: _request(url, method, r.command_timeout))
        )
    if r.restart_cmd is not None:
        restart = _prepared(r, r.restart_cmd, "restart_cmd")
        actions.append((("restart_cmd", _shown(restart)), lambda: _run(r, restart, "restart_cmd")))
    return actions


def _prepared(r: TemplateResource, command: str | tuple[str, ...], what: str) -> Prepared | str:
    """The command with `{{ dest }}` bound, or the one-line reason it cannot be run."""
    try:
        return prepare(command, field=what, dest=str(r.dest))
    except ConfigError as e:
        return e.message


def _shown(command: Prepared | str) -> str:
    return command.shown if isinstance(command, Prepared) else f"refused: {command}"


def _request(url: str, method: str, timeout: float) -> None:
    from confpy.apply.reload_http import send

    send(url, method, timeout)


def _signal(pidfile: Path, signame: str) -> None:
    signal_pidfile(pidfile, signame)


def _run(r: TemplateResource, command: Prepared | str, what: str) -> None:
    if not isinstance(command, Prepared):
        raise CommandError(f"{r.dest}: {command}", command=what)
    run_checked(command, timeout=r.command_timeout, what=what, dest=str(r.dest))
