"""Errors of the service's access control: who the caller is, and what they may do."""

from __future__ import annotations

from runbook.errors.base import FailureError, UsageError
from runbook.errors.policy import PolicyError


class CredentialsError(FailureError):
    """No credentials, or credentials that prove nobody (unknown, expired, revoked, forged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not authenticated: {reason}")
        self.reason = reason


class TooManyFailuresError(CredentialsError):
    """Too many failed authentications from one address: refused unchecked for a while."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed authentications from this address; try again in {retry_after} s"
        )
        self.retry_after = retry_after


class ForbiddenError(PolicyError):
    """The caller is known, but their role does not grant what they asked for."""

    def __init__(self, user: str, role: str, permission: str) -> None:
        super().__init__(
            f"{user} ({role}) may not {permission}: ask an admin for a role that grants it"
        )
        self.user = user
        self.role = role
        self.permission = permission


class UnknownTokenError(UsageError):
    """No API token has the given id."""

    def __init__(self, token_id: str) -> None:
        super().__init__(f"{token_id}: no such API token (see `runbook token list`)")
        self.token_id = token_id


class UnknownSessionError(UsageError):
    """The caller has no editing session of that name (another user's is not theirs)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: no such session of yours (see GET /sessions)")
        self.name = name


class UnknownAutosaveError(UsageError):
    """The caller has no autosave of that name (another user's is not theirs)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: no such autosave of yours (see GET /autosave)")
        self.name = name


class IdempotencyConflictError(UsageError):
    """An ``Idempotency-Key`` already used for a different request, or for one in progress."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"Idempotency-Key {key!r}: {reason}")
        self.key = key
        self.reason = reason
