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
from dataclasses import replace
from pathlib import Path

from runbook.errors import SignatureError
from runbook.model.repository import Repository
from runbook.model.review import same_person
from runbook.model.standing import StandingApproval
from runbook.orchestrate.ssh_signatures import SigningKey, fingerprint, principals, sign, verifies

#: The first line of what a standing approval's signature covers.
_HEADER = "runbook-standing-approval"


def standing_message(approval: StandingApproval) -> str:
    """The text a standing approval's signature covers."""
    body = json.dumps(
        {"id": approval.id, **approval.event_payload()}, sort_keys=True, ensure_ascii=False
    )
    return f"{_HEADER}\n{body}\n"


def signed_grant(
    repository: Repository, approval: StandingApproval, key: SigningKey | None
) -> tuple[StandingApproval, dict[str, str]]:
    """The approval as its signature proves it (approver = the key's principal), and what
    its event adds (signature, signer_key); unchanged and nothing without a key, where the
    repository does not require signed reviews. SignatureError saying why otherwise."""
    policy = repository.config.review
    if key is None:
        if policy.signed:
            raise SignatureError(
                "this repository requires signed reviews (review.signed): a standing "
                "approval is signed too, with --key or an ssh-agent key in allowed_signers"
            )
        return approval, {}
    allowed = policy.allowed_signers or repository.root / "allowed_signers"
    if not Path(allowed).is_file():
        raise SignatureError(
            f"a signed standing approval needs the repository's {Path(allowed).name} file "
            "(review.allowed_signers), which lists who may approve"
        )
    message = standing_message(approval)
    signature = sign(message, key)
    names = principals(signature, allowed)
    if not names:
        raise SignatureError(
            f"the key that signed is not listed in {Path(allowed).name}: it may not approve"
        )
    approver = next((n for n in names if same_person(n, approval.approved_by)), names[0])
    if not verifies(message, signature, allowed, approver):
        raise SignatureError(f"the signature is not {approver}'s over this standing approval")
    proven = replace(approval, approved_by=approver, identity_kind="ssh-key")
    return proven, {"signature": signature, "signer_key": fingerprint(message, signature)}
