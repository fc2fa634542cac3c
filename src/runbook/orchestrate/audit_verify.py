"""``runbook audit verify``: the chain, its anchors and the records, checked together.

Three checks, each able to catch what the others cannot:

* the hash chain itself (:func:`runbook.model.audit.verify_chain`): an event changed,
  removed, inserted or moved without recomputing the hashes after it;
* the anchors (:class:`runbook.model.audit_anchor.AnchorCheck`), from the anchor file and
  the git ref, which must also agree with each other: the log wiped, cut short, or
  rewritten with every hash recomputed, up to the newest anchor;
* the records (:func:`runbook.model.audit_records.cross_check`): a plan, review, run,
  workflow run or playbook run without its event or differing from it, and events whose
  record was deleted: this also covers events appended after the newest anchor.

The anchors are read before the chain, so an anchor written meanwhile cannot make the
chain look short. Records are read before the chain and, when they disagree with it, again
after: only a disagreement seen both times is reported, so a run that starts or ends while
``verify`` reads is not mistaken for tampering.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import AuditTamperedError
from runbook.model.audit import AuditEvent, verify_chain
from runbook.model.audit_anchor import (
    Anchor,
    AnchorCheck,
    AnchorFormatError,
    compare_histories,
    latest_for,
)
from runbook.model.audit_records import Ledger, cross_check
from runbook.model.repository import Repository
from runbook.orchestrate.audit_anchor import (
    SHOWN_FILE,
    anchor_lock,
    read_file_anchors,
    reading,
    stream_events,
)
from runbook.orchestrate.audit_git import GitError, anchor_ref, read_ref
from runbook.orchestrate.review_trust import signature_holds
from runbook.store.audit_records import record_facts, store_label
from runbook.store.reviews import signed_reviews


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of :func:`verify_audit_log`: ``findings`` is empty when all is well.

    ``checked`` counts the events read, ``records`` the records compared with them,
    ``anchors`` the anchors of this store checked; ``anchor`` is the newest of them.
    ``first_bad_id`` is the first bad event the chain itself names, if any.
    """

    checked: int
    records: int
    anchors: int
    anchor: Anchor | None
    ref: str | None
    first_bad_id: int | None
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


@dataclass
class _Anchors:
    of_store: dict[Anchor, str]
    ref: str | None
    findings: list[str]


def _bad_signatures(sessions: sessionmaker[Session], repository: Repository) -> list[str]:
    """Signed reviews whose signature does not verify against allowed_signers now."""
    with reading(sessions) as session:
        signed = signed_reviews(session)
    return [
        f"review {review.id} of plan {review.plan_id}: its signature (key "
        f"{review.signer_key or 'unknown'}) is not a valid {review.verdict.value} verdict by "
        f"{review.reviewer} under allowed_signers"
        for review in signed
        if not signature_holds(repository, review)
    ]


def verify_audit_log(sessions: sessionmaker[Session], repository: Repository) -> AuditVerdict:
    """Check the chain, its anchors and the records (see the module docstring)."""
    with reading(sessions) as session:
        store = store_label(session, repository.root)
    anchors = _read_anchors(repository, store)
    with reading(sessions) as session:
        first = list(record_facts(session))
    check = AnchorCheck(list(anchors.of_store), sources=anchors.of_store)
    ledger = Ledger()
    counted = [0]

    def observed() -> Iterator[AuditEvent]:
        for event in stream_events(sessions):
            counted[0] += 1
            check.see(event)
            ledger.see(event)
            yield event

    events = observed()
    chain = verify_chain(events)
    for _ in events:  # the anchors and the records need the rest of the chain too
        pass
    found = cross_check(ledger, first)
    if found:
        with reading(sessions) as session:
            again = list(record_facts(session))
        keys = {finding.key for finding in found}
        found = [finding for finding in cross_check(ledger, again) if finding.key in keys]
    findings = [chain.reason] if not chain.ok else []
    findings += check.findings() + anchors.findings + [finding.message for finding in found]
    findings += _bad_signatures(sessions, repository)
    newest = latest_for(anchors.of_store, store)
    notes = []
    if newest is None and counted[0]:
        notes.append("the audit log has no anchor yet: `runbook audit anchor` makes one")
    elif newest is not None and counted[0] > newest.count:
        notes.append(
            f"{counted[0] - newest.count} events after the newest anchor are checked only "
            "against the records (the next run or `runbook audit anchor` anchors them)"
        )
    return AuditVerdict(
        checked=counted[0],
        records=len(first),
        anchors=len(anchors.of_store),
        anchor=newest,
        ref=anchors.ref,
        first_bad_id=chain.first_bad_id,
        findings=findings,
        notes=notes,
    )


def _read_anchors(repository: Repository, store: str) -> _Anchors:
    findings: list[str] = []
    with anchor_lock(repository, exclusive=False):
        try:
            on_file = read_file_anchors(repository)
        except AuditTamperedError as error:
            findings.append(error.reason)
            on_file = []
        ref = anchor_ref(repository.root)
        on_ref: list[Anchor] | None = None
        if ref is not None:
            try:
                on_ref = read_ref(ref).anchors
            except (GitError, AnchorFormatError) as error:
                findings.append(f"cannot read the git ref {ref.name}: {error}")
        if ref is not None and on_ref is not None:
            agreement = compare_histories(on_file, on_ref, ref.name)
            if not agreement.agree:
                findings.append(agreement.problem)
    sources = {anchor: SHOWN_FILE for anchor in on_file if anchor.store == store}
    for anchor in on_ref or []:
        if anchor.store == store and ref is not None:
            both = anchor in sources
            sources[anchor] = f"{SHOWN_FILE} and {ref.name}" if both else ref.name
    return _Anchors(of_store=sources, ref=ref.name if ref else None, findings=findings)
