"""confpy's exception tree: every error a user can cause or meet, with the data to act on it.

This module imports nothing from the package, so any module may raise these.

    ConfpyError                      exit 1, the root: catch this to catch everything
    ├── ConfigError                  exit 2, a flag, setting, resource file or template is wrong
    │   ├── TemplateSyntaxError      exit 2, a template does not compile (file, line)
    │   └── ConfigProblems           exit 2, several of the above at once (`problems`)
    ├── RenderError                  exit 1, a template failed while rendering (file, line)
    │   └── MissingKeyError          exit 1, a template asked for a key etcd does not have
    ├── StoreError                   exit 3, etcd could not answer
    │   ├── StoreUnavailableError    exit 3, no endpoint answered in time
    │   │   └── WatchGapError        exit 3, a watch over separate ranges broke: resync
    │   ├── KeysMissingError         exit 3, keys a resource needs are still absent
    │   ├── RevisionCompactedError   exit 3, a watch asked for a revision etcd has compacted
    │   ├── ConflictError            exit 3, a transaction's compare failed (someone else wrote)
    │   ├── StoreFullError           exit 3, etcd's NOSPACE alarm: it refuses writes until disarmed
    │   ├── StoreAccessError         exit 2, etcd refused the login or the user's permissions
    │   └── ValueEncodingError       exit 1, a value is not UTF-8 (the key is named)
    ├── EachFileError                exit 1, one file of an `each` resource failed (`error`)
    ├── InstallError                 exit 1, a destination could not be written
    │   └── CheckFailedError         exit 1, check_cmd rejected the staged file
    ├── CommandError                 exit 1, a reload/restart command failed or timed out
    ├── ProcessError                 exit 1, a supervised child could not be started or signalled
    └── WorkerDiedError              exit 1, a thread of a long-running command died unexpectedly

Two subclasses live beside their only raiser: `confpy.golib.flag.FlagError` (a ConfigError:
a `confpy confd` command line Go's flag package would refuse) and
`confpy.convert.calls.NotReadable` (a TemplateSyntaxError: a Go construct
`confpy convert` has no plain-Jinja spelling for).

The exit codes are given by `confpy.cli.exit_code_for`, one table; the classes carry none.
Messages are one line and name the file, line, key or flag at fault; they never contain
a value read from etcd.
"""

from __future__ import annotations

# Exit codes, documented in `confpy --help` and docs/operations.md.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class ConfpyError(Exception):
    """Root of every error confpy raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ConfpyError):
    """A flag, environment variable, settings file, resource file or template is wrong."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = _where(file, line)
        super().__init__(f"{where}{message}")
        self.file = file
        self.line = line
        self.field = field
        self.reason = message


class TemplateSyntaxError(ConfigError):
    """A template does not compile."""


class ConfigProblems(ConfigError):
    """Every problem found while loading a configuration, each printed on its own line."""

    def __init__(self, problems: list[ConfpyError]) -> None:
        super().__init__(
            "; ".join(str(p) for p in problems[:3])
            + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        )
        self.problems = problems


class RenderError(ConfpyError):
    """A template raised while rendering."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{_where(file, line)}{message}")
        self.file = file
        self.line = line
        self.reason = message


class MissingKeyError(RenderError):
    """A template read a key that is not in etcd and gave no default."""

    def __init__(self, key: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(f"key not found: {key}", file=file, line=line)
        self.key = key


class StoreError(ConfpyError):
    """etcd could not answer the question."""


class StoreUnavailableError(StoreError):
    """No configured endpoint answered."""


class KeysMissingError(StoreError):
    """Keys that resources need are absent."""

    def __init__(self, keys: list[str]) -> None:
        shown = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
        super().__init__(f"keys missing in etcd: {shown}")
        self.keys = keys


class RevisionCompactedError(StoreError):
    """A watch started at a revision that etcd has already compacted away."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"revision {requested} is compacted (etcd kept revisions from {compacted})"
        )
        self.requested = requested
        self.compacted = compacted


class WatchGapError(StoreUnavailableError):
    """A watch over several separate ranges broke: only a full snapshot closes the gap.

    Separate ranges progress separately, so no single revision is known to be complete
    across all of them to resume from.
    """


class ConflictError(StoreError):
    """A transaction's compare failed: another writer changed the keys first."""


class StoreFullError(StoreError):
    """etcd raised its NOSPACE alarm: it refuses every write until an operator compacts,
    defragments and disarms it."""


class StoreAccessError(StoreError):
    """etcd refused the credentials, or the user's roles do not allow the operation."""


class ValueEncodingError(StoreError):
    """A value in etcd is not valid UTF-8."""

    def __init__(self, key: str) -> None:
        super().__init__(f"value of key {key} is not valid UTF-8")
        self.key = key


class EachFileError(ConfpyError):
    """One file of an `each` resource failed; carries the file's own error."""

    def __init__(self, label: str, error: ConfpyError, more: int = 0) -> None:
        extra = f" (and {more} more of its files failed)" if more else ""
        super().__init__(f"{label}: {error}{extra}")
        self.error = error


class InstallError(ConfpyError):
    """A rendered file could not be staged or installed."""

    def __init__(self, message: str, *, dest: str) -> None:
        super().__init__(f"{dest}: {message}")
        self.dest = dest
        self.reason = message


class CheckFailedError(InstallError):
    """check_cmd rejected the staged file; the destination is unchanged."""


class CommandError(ConfpyError):
    """A check, reload or restart command failed, could not start, or timed out."""

    def __init__(
        self, message: str, *, command: str, status: int | None = None, output: str = ""
    ) -> None:
        super().__init__(message)
        self.command = command
        self.status = status
        self.output = output


class ProcessError(ConfpyError):
    """A supervised child process could not be started or signalled."""


class WorkerDiedError(ConfpyError):
    """A worker thread of a long-running command (the registration, the watch) ended by an
    error nothing expected: the command stops rather than run on without it."""

    def __init__(self, thread: str, reason: str) -> None:
        super().__init__(f"thread {thread} died: {reason}; stopping")
        self.thread = thread
        self.reason = reason


def _where(file: str | None, line: int | None) -> str:
    if file is None:
        return ""
    if line is None:
        return f"{file}: "
    return f"{file}:{line}: "
