"""What a runbook imports inside its notebook.

``secret(reference)`` resolves a secret without printing it; planned notebooks use it to
receive secret parameters by reference, so their values never appear in the notebook.
"""

from __future__ import annotations

from runbook.secrets import resolve_reference

__all__ = ["secret"]


def secret(reference: str) -> str:
    """The value of a secret: ``env:VAR``, ``file:PATH``, ``secret:NAME`` or a bare ``NAME``."""
    if ":" not in reference:
        reference = f"secret:{reference}"
    return resolve_reference(reference)
