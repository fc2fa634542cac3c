"""Signed standing approvals: where reviews must be signed, so must a standing approval.

A standing approval lets unattended callers run what a person would otherwise review, so in
a repository with ``[review] signed = true`` it is granted only with an SSH signature by a key
``allowed_signers`` lists (as a review is: :mod:`runbook.orchestrate.reviewing`). The key's
principal is the approver, whatever ``--as`` said; the signature covers the approval's id and
everything its ``standing.approved`` event records (subject, hash, callers, bounds, expiry,
``confirm_unattended``), and is kept in that event with the key's fingerprint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from runbook.errors import SignatureError
from runbook.model.repository import Repository
from runbook.model.review import same_person
from runbook.model.standing import StandingApproval
from runbook.orchestrate.ssh_signatures import SigningKey, fingerprint, principals, sign, verifies

#: The first line of what a standing approval's signature covers.
_HEADER = "runbook-standing-approval"

#: How long a drafted approval may wait for its signature (a client signs it and sends it
#: back): its ``approved_at`` is the draft's, so it may not be older, nor in the future.
DRAFT_LIFETIME = timedelta(minutes=15)
_SKEW = timedelta(minutes=1)
_ID = re.compile(r"standing-[0-9a-f]{8}")


@dataclass(frozen=True)
class SignedGrant:
    """A standing approval signed elsewhere (a client of the service, with its own key):
    the drafted approval's ``id`` and ``approved_at``, and the SSH ``signature`` over its
    :func:`standing_message`."""

    id: str
    approved_at: datetime
    signature: str

    def check(self, now: datetime) -> None:
        """SignatureError unless it is a drafted approval's id and a moment still fresh."""
        if not _ID.fullmatch(self.id):
            raise SignatureError(f"{self.id!r} is not a drafted standing approval's id")
        if self.approved_at.tzinfo is None:
            raise SignatureError("approved_at: give the draft's moment with its time zone")
        if not now - DRAFT_LIFETIME <= self.approved_at <= now + _SKEW:
            raise SignatureError(
                f"standing approval {self.id}: its draft is older than "
                f"{int(DRAFT_LIFETIME.total_seconds() // 60)} minutes (or from the future): "
                "draft it again and sign that"
            )


def standing_message(approval: StandingApproval) -> str:
    """The text a standing approval's signature covers."""
    body = json.dumps(
        {"id": approval.id, **approval.event_payload()}, sort_keys=True, ensure_ascii=False
    )
    return f"{_HEADER}\n{body}\n"


def signed_grant(
    repository: Repository,
    approval: StandingApproval,
    key: SigningKey | None,
    signature: str | None = None,
) -> tuple[StandingApproval, dict[str, str]]:
    """The approval as its signature proves it (approver = the key's principal), and what
    its event adds (signature, signer_key); unchanged and nothing without a key, where the
    repository does not require signed reviews. SignatureError saying why otherwise.

    With ``signature`` (made elsewhere, by the approver's own key: a service's client) it
    is checked instead of signing here, and must be by a key of ``approved_by``.
    """
    policy = repository.config.review
    message = standing_message(approval)
    own_key = signature is not None
    if signature is None:
        if key is None:
            if policy.signed:
                raise SignatureError(
                    "this repository requires signed reviews (review.signed): a standing "
                    "approval is signed too, with --key or an ssh-agent key in allowed_signers"
                )
            return approval, {}
        signature = sign(message, key)
    allowed = policy.allowed_signers or repository.root / "allowed_signers"
    if not Path(allowed).is_file():
        raise SignatureError(
            f"a signed standing approval needs the repository's {Path(allowed).name} file "
            "(review.allowed_signers), which lists who may approve"
        )
    names = principals(signature, allowed)
    if not names:
        raise SignatureError(
            f"the key that signed is not listed in {Path(allowed).name}: it may not approve"
        )
    approver = next((n for n in names if same_person(n, approval.approved_by)), names[0])
    if own_key and not same_person(approver, approval.approved_by):
        raise SignatureError(
            f"the key that signed is {approver}'s, not {approval.approved_by}'s: sign with "
            "your own key"
        )
    if not verifies(message, signature, allowed, approver):
        raise SignatureError(
            f"the signature is not {approver}'s over this standing approval (did the "
            "runbook, the bounds or the callers change since it was drafted?)"
        )
    proven = replace(approval, approved_by=approver, identity_kind="ssh-key")
    return proven, {"signature": signature, "signer_key": fingerprint(message, signature)}
