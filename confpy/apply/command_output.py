"""What a check, reload or restart command printed, made safe to show and log.

A command may echo the file it reads (Logstash prints the configuration around an error,
a reload script may `cat` it), and the file holds values a template may have transformed
past recognition (`upper`, `base64Encode`). `CommandOutput` gathers, for one change set,
the old and new text of every file it stages, and scrubs a command's error with
`confpy.redact`'s command-output rule against those files, the resources' raw values and
their templates (what a template says is configuration and stays readable). When one of
the files is private, the output is withheld whole instead, in the message as in the
error's `output` (and so in the log, /healthz and the status record): a command that
transforms what it prints would defeat any matching.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable

from confpy.config.keys import select
from confpy.config.resource import TemplateResource
from confpy.errors import CheckFailedError, CommandError, ConfpyError
from confpy.redact import FileText, OutputScrubber, is_private, withheld
from confpy.store.snapshot import Snapshot
from confpy.supervise.process import one_line


class CommandOutput:
    """The files of one change set as its commands may print them; scrubs their errors."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.files: dict[str, FileText] = {}

    def staged(self, r: TemplateResource, content: bytes, mode: int) -> None:
        """Remember `r`'s new content and mode and, before it is replaced, its old file."""
        old, old_mode = _read(r)
        private = r.secret or is_private(old_mode, mode)
        self.files[r.name] = FileText(str(r.dest), old, _text(content), private)

    def check_failed(self, error: CheckFailedError, r: TemplateResource) -> CheckFailedError:
        """A check command's failure, without what it printed of `r`'s files or values."""
        scrubber = self.scrubber([r])
        # The reason quotes the output (not the output itself): withheld from `exited N: `.
        reason = _withhold_in(error.reason) if scrubber.private else scrubber.scrub(error.reason)
        return error if reason == error.reason else CheckFailedError(reason, dest=error.dest)

    def scrub_for(self, resources: Iterable[TemplateResource]) -> _Scrub:
        """What a reload shared by `resources` may show: scrubbed of all their files."""
        return _Scrub(self, list(resources))

    def scrubber(self, resources: list[TemplateResource]) -> OutputScrubber:
        files: list[FileText] = []
        values: dict[str, str] = {}
        public: list[str] = []
        for r in resources:
            files.append(self.files.get(r.name) or _current(r))
            values.update(
                (k, _text(v)) for k, v in select(self.snapshot.values, r.full_keys).items()
            )
            public.extend(r.keys)
            with contextlib.suppress(OSError):
                public.append(r.src.read_text(errors="replace"))
        return OutputScrubber(files, values, public)


class _Scrub:
    """A CommandError with its message and output scrubbed; other errors as they are.

    The scrubber is built on the first error only: commands that succeed cost nothing.
    """

    def __init__(self, owner: CommandOutput, resources: list[TemplateResource]) -> None:
        self.owner, self.resources = owner, resources
        self.cached: OutputScrubber | None = None

    def __call__(self, error: ConfpyError) -> ConfpyError:
        if not isinstance(error, CommandError):
            return error
        if self.cached is None:
            self.cached = self.owner.scrubber(self.resources)
        scrub = self.cached.scrub
        output = scrub(error.output)
        message = error.message
        if self.cached.private:
            message = _withhold_in(message, error.output)
        else:
            if error.output:  # the output as the message quotes it: scrubbed line by line first
                message = message.replace(one_line(error.output), one_line(output))
            message = scrub(message)
        return CommandError(message, command=error.command, status=error.status, output=output)


_EXITED = re.compile(r"exited -?\d+: ")
"""Where a command's output starts in its message (`process.run_checked`)."""


def _withhold_in(message: str, output: str | None = None) -> str:
    """`message` with the output it quotes withheld: `output` as `one_line` quoted it, or,
    not known or not found, all after `exited N: `. A message that quotes no output (a
    timeout, a command that cannot start) names only the command and stays."""
    if output and one_line(output) in message:
        return message.replace(one_line(output), withheld(output))
    m = _EXITED.search(message)
    return message[: m.end()] + withheld(message[m.end() :]) if m else message


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _read(r: TemplateResource) -> tuple[str, int | None]:
    """The destination's text and mode now; ("", None) when there is none to read."""
    try:
        mode = stat.S_IMODE(os.stat(r.dest).st_mode)
        return _text(r.dest.read_bytes()), mode
    except OSError:
        return "", None


def _current(r: TemplateResource) -> FileText:
    """A file this change set did not stage (its reload was owed): as it is now."""
    text, mode = _read(r)
    return FileText(str(r.dest), "", text, r.secret or is_private(mode, r.mode))
