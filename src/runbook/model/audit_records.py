"""Cross-checking the audit chain against the records it describes.

Every plan, review, run, workflow run and playbook run is recorded together with its audit
event, in one transaction, so the two must tell the same story:

==================  ======================  ==================================================
record              its events              compared
==================  ======================  ==================================================
plan                ``plan.created``        planner and time, runbook, sha256, parameters,
                                            review_required; state = its standing verdicts'
review              ``review.recorded``     reviewer and time, verdict, plan_sha256, comment
                    (in order, per plan)
run                 ``run.started``,        executor, plan, mode, start_cell, resumed_from;
                    ``run.finished`` /      state = the last event's (``running`` without one)
                    ``run.state``
workflow run        ``workflow.started`` /  who started it, workflow, source, trigger,
                    ``.finished``           parameters, reference_date, resumed_from; state
playbook run        ``playbook.started`` /  who started it, playbook, revision, version,
                    ``.finished``           parameters, retry_of, plan; state
standing approval   ``standing.approved``,  reviewer and time, runbook (or workflow file),
                    ``standing.revoked``    sha256, callers, bounds, expiry, confirm_unattended,
                                            comment; state (approved, revoked)
==================  ======================  ==================================================

A record without its event (the log was wiped or truncated), a record whose fields differ
from its event's (the record was edited), and events whose record is gone without a
``retention.gc`` event listing it (the record was deleted) are each named.
:class:`Ledger` collects what the events say from one pass over the chain;
:func:`cross_check` compares it with the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from runbook.model.audit import AuditEvent, EventKind
from runbook.model.audit_facts import RecordFacts, RecordKind
from runbook.model.review import VerdictSeen, plan_state


@dataclass(frozen=True)
class RecordFinding:
    """One disagreement; ``key`` tells the same disagreement seen twice apart from others."""

    key: tuple[str, str, str]
    message: str


_CREATED: Final = {
    RecordKind.PLAN: EventKind.PLAN_CREATED,
    RecordKind.RUN: EventKind.RUN_STARTED,
    RecordKind.WORKFLOW_RUN: EventKind.WORKFLOW_STARTED,
    RecordKind.PLAYBOOK_RUN: EventKind.PLAYBOOK_RUN_STARTED,
    RecordKind.STANDING: EventKind.STANDING_APPROVED,
}
_PREFIXES: Final = {
    "plan:": RecordKind.PLAN,
    "run:": RecordKind.RUN,
    "workflow:": RecordKind.WORKFLOW_RUN,
    "playbook:": RecordKind.PLAYBOOK_RUN,
    "standing:": RecordKind.STANDING,
}
# The events whose payload "state" is the state the record ends in.
_STATE_EVENTS: Final = frozenset(
    {
        EventKind.RUN_FINISHED,
        EventKind.RUN_STATE,
        EventKind.WORKFLOW_FINISHED,
        EventKind.PLAYBOOK_RUN_FINISHED,
    }
)
_INITIAL_STATE: Final = {
    RecordKind.PLAN: "planned",
    RecordKind.RUN: "running",
    RecordKind.WORKFLOW_RUN: "running",
    RecordKind.PLAYBOOK_RUN: "running",
    RecordKind.STANDING: "approved",
}
# retention.gc payload: {"removed": {"runs": [...], "workflow_runs": [...], ...}}
_REMOVED_KEYS: Final = {
    "runs": RecordKind.RUN,
    "workflow_runs": RecordKind.WORKFLOW_RUN,
    "playbook_runs": RecordKind.PLAYBOOK_RUN,
}
_SHOWN = 60


@dataclass
class _Subject:
    created: AuditEvent | None = None
    reviews: list[AuditEvent] = field(default_factory=list)
    state: str | None = None


@dataclass
class Ledger:
    """What the events say about each record, from one pass over the chain (:meth:`see`)."""

    subjects: dict[str, _Subject] = field(default_factory=dict)
    removed: set[tuple[RecordKind, str]] = field(default_factory=set)

    def see(self, event: AuditEvent) -> None:
        """Take the next event of the chain."""
        kind = event.kind
        # A payload edited into something else than an object says nothing (the chain or an
        # anchor names the edit).
        payload = event.payload if isinstance(event.payload, dict) else {}
        if kind == EventKind.RETENTION_GC:
            self._removed(payload.get("removed"))
            return
        record = _kind_of(event.subject)
        if record is None:
            return
        entry = self.subjects.setdefault(event.subject, _Subject())
        if kind == _CREATED.get(record[0]) and entry.created is None:
            entry.created = event
            entry.state = _INITIAL_STATE[record[0]]
        elif kind == EventKind.REVIEW_RECORDED:
            entry.reviews.append(event)
            entry.state = plan_state(
                [VerdictSeen(e.actor, str(_verdict(e))) for e in entry.reviews]
            )
        elif kind == EventKind.STANDING_REVOKED:
            entry.state = "revoked"
        elif kind in _STATE_EVENTS:
            state = payload.get("state")
            entry.state = state if isinstance(state, str) else entry.state

    def _removed(self, removed: object) -> None:
        if not isinstance(removed, dict):
            return
        for key, kind in _REMOVED_KEYS.items():
            ids = removed.get(key)
            if isinstance(ids, list):
                self.removed.update((kind, str(record_id)) for record_id in ids)


def cross_check(ledger: Ledger, records: Iterable[RecordFacts]) -> list[RecordFinding]:
    """Every disagreement between the records and the ledger, records first."""
    found: list[RecordFinding] = []
    known: set[str] = set()
    reviews: dict[str, list[RecordFacts]] = {}
    for facts in records:
        if facts.kind is RecordKind.REVIEW:
            reviews.setdefault(facts.subject, []).append(facts)
            continue
        known.add(facts.subject)
        found.extend(_check_record(ledger.subjects.get(facts.subject), facts))
    for subject, entry in ledger.subjects.items():
        found.extend(_check_reviews(subject, entry.reviews, reviews.pop(subject, [])))
        record = _kind_of(subject)
        if entry.created is None or subject in known or record is None:
            continue
        if record in ledger.removed:
            continue
        kind, record_id = record
        found.append(
            RecordFinding(
                (kind.value, record_id, "deleted"),
                f"{kind.value} {record_id} has audit events (from event {entry.created.id}) "
                "but no record: it was deleted from the store outside `runbook gc`",
            )
        )
    for subject, rows in reviews.items():
        found.extend(_check_reviews(subject, [], rows))
    return found


def _check_record(entry: _Subject | None, facts: RecordFacts) -> list[RecordFinding]:
    name = f"{facts.kind.value} {facts.id}"
    created = entry.created if entry is not None else None
    if entry is None or created is None:
        event_kind = _CREATED[facts.kind].value
        return [
            RecordFinding(
                (facts.kind.value, facts.id, "no-event"),
                f"{name} has no {event_kind} event in the log (the log lost it, or the "
                "record was added behind runbook's back)",
            )
        ]
    found = []
    differences = _differences(facts, created)
    if differences:
        found.append(
            RecordFinding(
                (facts.kind.value, facts.id, "differs"),
                f"{name} differs from its {created.kind} event {created.id}: {differences}",
            )
        )
    if facts.state is not None and facts.state != entry.state:
        found.append(
            RecordFinding(
                (facts.kind.value, facts.id, "state"),
                f"{name} is {_shown(facts.state)} in the store, but its audit events say "
                f"{_shown(entry.state)}",
            )
        )
    return found


def _check_reviews(
    subject: str, events: list[AuditEvent], rows: list[RecordFacts]
) -> list[RecordFinding]:
    plan = subject.partition(":")[2]
    found = []
    for index, facts in enumerate(rows):
        if index >= len(events):
            found.append(
                RecordFinding(
                    ("review", facts.id, "no-event"),
                    f"review {facts.id} of plan {plan} (by {_shown(facts.actor)}) has no "
                    "review.recorded event in the audit log",
                )
            )
            continue
        differences = _differences(facts, events[index])
        if differences:
            found.append(
                RecordFinding(
                    ("review", facts.id, "differs"),
                    f"review {facts.id} of plan {plan} differs from its review.recorded "
                    f"event {events[index].id}: {differences}",
                )
            )
    for event in events[len(rows) :]:
        found.append(
            RecordFinding(
                ("review", f"event-{event.id}", "deleted"),
                f"review.recorded event {event.id} (plan {plan}, "
                f"{_shown(_verdict(event))} by {_shown(event.actor)}) has no "
                "review record: the review was deleted from the store",
            )
        )
    return found


def _differences(facts: RecordFacts, event: AuditEvent) -> str:
    changed: list[tuple[str, object, object]] = []
    if facts.actor != event.actor:
        changed.append(("actor", facts.actor, event.actor))
    if facts.at is not None and facts.at != event.at:
        changed.append(("time", facts.at.isoformat(), event.at.isoformat()))
    payload = event.payload if isinstance(event.payload, dict) else {}
    for key, value in facts.payload.items():
        logged = payload.get(key)
        if value != logged:
            changed.append((key, value, logged))
    return "; ".join(
        f"{key} is {_shown(mine)} in the store, {_shown(logged)} in the log"
        for key, mine, logged in changed
    )


def _verdict(event: AuditEvent) -> object:
    return event.payload.get("verdict") if isinstance(event.payload, dict) else None


def _kind_of(subject: str) -> tuple[RecordKind, str] | None:
    for prefix, kind in _PREFIXES.items():
        if subject.startswith(prefix) and len(subject) > len(prefix):
            return kind, subject[len(prefix) :]
    return None


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
