"""A review: a second person's verdict on a plan, bound to the plan's hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from runbook.errors import ParameterError
from runbook.model.identity import same_identity


class Verdict(StrEnum):
    """What a reviewer decided."""

    APPROVED = "approved"
    REJECTED = "rejected"
    #: The reviewer takes back their earlier verdicts on the plan (a rejection, above all).
    WITHDRAWN = "withdrawn"


#: The words a verdict is given in (``approve`` or ``approved`` …), as the CLI's flags say.
_VERDICT_WORDS = {
    "approve": Verdict.APPROVED,
    "reject": Verdict.REJECTED,
    "withdraw": Verdict.WITHDRAWN,
    **{verdict.value: verdict for verdict in Verdict},
}


def parse_verdict(text: str, where: str = "verdict") -> Verdict:
    """The verdict ``text`` names (approve, reject, withdraw); ParameterError otherwise."""
    try:
        return _VERDICT_WORDS[text.strip().lower()]
    except KeyError:
        reason = f"{text!r} is not a verdict: approve, reject or withdraw"
        raise ParameterError(where, reason) from None


class IdentityKind(StrEnum):
    """How a reviewer's identity was established."""

    #: Said by the caller: ``--as``, ``RUNBOOK_USER``, git's ``user.email``, the OS user.
    CLAIMED = "claimed"
    #: Proven: the principal ``allowed_signers`` lists for the SSH key that signed.
    SSH_KEY = "ssh-key"
    #: Established by the service: the user of the API token that called.
    TOKEN = "token"  # noqa: S105 - the name of an identity kind, not a secret
    #: Established by the service: the subject of a bearer token an OpenID issuer signed.
    OIDC = "oidc"
    #: Established by the service: the user a trusted reverse proxy named.
    PROXY = "proxy"


@dataclass(frozen=True)
class Review:
    """One verdict on one plan. ``plan_sha256`` is the plan content the reviewer saw.

    A signed review keeps its armored SSH ``signature`` over :func:`signed_message` (which
    covers ``nonce``) and the fingerprint of the key (``signer_key``).
    """

    plan_id: str
    verdict: Verdict
    reviewer: str
    plan_sha256: str
    reviewed_at: datetime
    comment: str | None = None
    id: int | None = None
    identity_kind: IdentityKind = IdentityKind.CLAIMED
    signature: str | None = None
    nonce: str | None = None
    signer_key: str | None = None


def signed_message(plan_id: str, plan_sha256: str, verdict: Verdict, nonce: str) -> str:
    """What a reviewer's key signs: the plan, the content seen, the verdict, and a nonce
    that makes each verdict's signature new (so a recorded one cannot be replayed)."""
    return (
        "runbook review v1\n"
        f"plan {plan_id}\n"
        f"sha256 {plan_sha256}\n"
        f"verdict {Verdict(verdict).value}\n"
        f"nonce {nonce}\n"
    )


class _Verdicted(Protocol):
    @property
    def reviewer(self) -> str: ...
    @property
    def verdict(self) -> str: ...


_V = TypeVar("_V", bound=_Verdicted)


def standing(reviews: Sequence[_V]) -> list[_V]:
    """The approvals and rejections among ``reviews`` (oldest first) that stand: each,
    unless its reviewer later withdrew. A reviewer's later approval does not take back their
    rejection: only a withdrawal does (a rejection is a veto)."""
    kept: list[_V] = []
    for review in reviews:
        if review.verdict == Verdict.WITHDRAWN:
            kept = [r for r in kept if not same_person(r.reviewer, review.reviewer)]
        else:
            kept.append(review)
    return kept


@dataclass(frozen=True)
class VerdictSeen:
    """A verdict as an audit event tells it."""

    reviewer: str
    verdict: str


def plan_state(verdicts: Sequence[_Verdicted]) -> str:
    """A plan's state after its verdicts, oldest first: ``rejected`` while a rejection
    stands, else ``approved`` while an approval does, else ``planned``."""
    kinds = {str(v.verdict) for v in standing(verdicts)}
    if Verdict.REJECTED in kinds:
        return "rejected"
    return "approved" if Verdict.APPROVED in kinds else "planned"


def same_person(a: str, b: str) -> bool:
    """Whether two recorded identities name the same person.

    Compared by :func:`runbook.model.identity.identity_key`: case, invisible characters,
    compatibility forms and lookalike letters do not make a second person.
    """
    return same_identity(a, b)
