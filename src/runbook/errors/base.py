"""The root of the error tree: RunbookError, and its two kinds, usage and failure."""

from __future__ import annotations

from typing import Any


class RunbookError(Exception):
    """Root of every error Runbook raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def lines(self) -> list[str]:
        """The error as stderr lines: one, unless the error is a list of problems."""
        return [self.message]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[RunbookError], message: str, state: dict[str, Any]) -> RunbookError:
    error = cls.__new__(cls)
    RunbookError.__init__(error, message)
    error.__dict__.update(state)
    return error


class UsageError(RunbookError):
    """The request itself is wrong: a bad name, value or path."""


class FailureError(RunbookError):
    """A well-formed request could not be carried out."""
