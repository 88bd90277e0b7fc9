"""Errors that reach the user as one clear line."""

from __future__ import annotations


class BumperError(Exception):
    """A failure the user can act on; its message is printed as one line, no traceback.

    ``location`` is ``file:line`` (or ``file:line:column``) when the cause is in a file.
    """

    exit_code = 1

    def __init__(
        self, message: str, location: str | None = None, warnings: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        # Lines to show before the error (files that could not be parsed, say).
        self.warnings = warnings

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class UsageError(BumperError):
    """Options that do not go together: exit 2, like click's own usage errors."""

    exit_code = 2


class Stopped(KeyboardInterrupt):
    """SIGTERM (a CI system cancelling the job) arrived outside the writing of files,
    where nothing half-done can be left: stop at once. A KeyboardInterrupt, so that no
    ``except Exception`` on the way can swallow it."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum
