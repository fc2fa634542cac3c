"""The audit log: append-only events, each holding the hash of the one before.

Every event's ``hash`` is the sha256 of the canonical JSON of its content (``at``, ``actor``,
``kind``, ``subject``, ``payload``) and of ``prev_hash``, the hash of the event before it;
the first event's ``prev_hash`` is :data:`GENESIS_HASH`. Changing, removing, reordering or
inserting an event therefore breaks the chain at that point, and :func:`verify_chain` says
where and how. The database id is not hashed: ids only fix the order in which the chain is
read (PostgreSQL sequences skip the id of an append whose transaction rolled back, so a gap
with an intact link is legitimate).

What a chain cannot show on its own: losing the newest events (tail truncation) and
rewriting every event from some point on with recomputed hashes. Both need the head hash
kept somewhere else: :mod:`runbook.model.audit_anchor` records it outside the database,
and :mod:`runbook.model.audit_records` checks the chain against the records it describes.

Event kinds the product writes (subject in brackets; the ``run.*`` and ``cell.*`` payloads
are what the run engine is to record):

===============================  ================================================================
kind                             payload
===============================  ================================================================
``plan.created`` [plan:ID]       runbook, sha256, parameters (secrets as references only),
                                 review_required
``review.recorded`` [plan:ID]    verdict, plan_sha256, comment
``run.started`` [run:ID]         the run's plan, mode and executor
``cell.decided`` [run:ID]        a confirm / manual / failure decision on a cell: who and what
``cell.finished`` [run:ID]       a cell's index, status and duration
``run.state`` [run:ID]           a run's state change (from, to, why)
``run.finished`` [run:ID]        a run's exit state
``workflow.started`` [workflow:ID]  the workflow, its trigger, parameters and source file
``workflow.finished`` [workflow:ID] its exit state and each task's state
``playbook.started`` [playbook:ID] the playbook, revision, parameters, target count, retry_of
``playbook.finished`` [playbook:ID] its exit state, targets per state, the failed ones
``catalog.imported`` [catalog]   the revision, its sha256, git commit and source
``catalog.paused`` [catalog]     automated response paused (the kill switch), and why
``catalog.resumed`` [catalog]    automated response resumed
``alert.answered`` [alert:ID]    the alert's service, code, rule, action (gap, suppressed,
                                 manual, suggest, auto), why, its plan and run
``retention.gc``                 what ``runbook gc`` removed (run ids, workflow and playbook runs)
``checkpoint``                   written by retention before it prunes older events (see below)
===============================  ================================================================

Payloads never hold secret values, session ids or tokens: parameters hold secret references
(``env:NAME``…), never what they resolve to.

Checkpoints (the hook retention uses): a ``checkpoint`` event is appended to the chain like
any other, and its payload repeats its own ``prev_hash`` as ``{"prev_hash": …}`` (plus
whatever retention records). Once the events before it are pruned, the chain may start at
such a checkpoint instead of at the genesis hash; any other first event means events were
deleted. Signing checkpoints (so that a forged one is detected too) belongs to retention.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first event of a chain."""


class EventKind(StrEnum):
    """The kinds of audit event the product writes (see the module docstring)."""

    PLAN_CREATED = "plan.created"
    REVIEW_RECORDED = "review.recorded"
    RUN_STARTED = "run.started"
    CELL_DECIDED = "cell.decided"
    CELL_FINISHED = "cell.finished"
    RUN_STATE = "run.state"
    RUN_FINISHED = "run.finished"
    WORKFLOW_STARTED = "workflow.started"
    WORKFLOW_FINISHED = "workflow.finished"
    CHECKPOINT = "checkpoint"
    PLAYBOOK_RUN_STARTED = "playbook.started"
    PLAYBOOK_RUN_FINISHED = "playbook.finished"
    RETENTION_GC = "retention.gc"
    STANDING_APPROVED = "standing.approved"
    STANDING_REVOKED = "standing.revoked"
    TOKEN_CREATED = "token.created"  # noqa: S105 - an event kind
    TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an event kind
    CATALOG_IMPORTED = "catalog.imported"
    CATALOG_PAUSED = "catalog.paused"
    CATALOG_RESUMED = "catalog.resumed"
    ALERT_ANSWERED = "alert.answered"


@dataclass(frozen=True)
class AuditEvent:
    """One audit event. ``id`` is None until the store has recorded it."""

    id: int | None
    at: datetime
    actor: str
    kind: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """The verdict of :func:`verify_chain`.

    ``checked`` is how many events were read. ``first_bad_id`` is the id of the first event
    that was altered, inserted or moved, or the first id that is missing; every event before
    it is intact. When a link between two events is broken but both look intact, the chain
    cannot tell "the earlier one was rewritten with a recomputed hash" from "the later one's
    link was": the earlier one is named, and ``reason`` says both.
    """

    ok: bool
    checked: int
    first_bad_id: int | None
    reason: str


def plan_subject(plan_id: str) -> str:
    """The subject of the events about a plan: ``plan:<id>``."""
    return f"plan:{plan_id}"


def workflow_subject(run_id: str) -> str:
    """The subject of the events about a workflow run: ``workflow:<id>``."""
    return f"workflow:{run_id}"


def playbook_subject(run_id: str) -> str:
    """The subject of the events about a playbook run: ``playbook:<id>``."""
    return f"playbook:{run_id}"


def standing_subject(approval_id: str) -> str:
    """The subject of the events about a standing approval: ``standing:<id>``."""
    return f"standing:{approval_id}"


def run_subject(run_id: str) -> str:
    """The subject of the events about a run: ``run:<id>``."""
    return f"run:{run_id}"


def event_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    kind: str,
    subject: str,
    payload: dict[str, Any],
) -> str:
    """The sha256 hex digest of an event's content chained to ``prev_hash``.

    The digest is taken over key-sorted, compact JSON (UTF-8, non-ASCII kept as is) with
    ``at`` as a UTC ISO timestamp with microseconds, so it does not depend on key order,
    layout or the timezone ``at`` was given in. Raises ``ValueError`` for a naive ``at``
    and for a payload that is not plain JSON (NaN, sets, non-string keys…).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"audit event at {at.isoformat()}: naive datetime refused")
    document = {
        "prev_hash": prev_hash,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": str(actor),
        "kind": str(kind),
        "subject": str(subject),
        "payload": payload,
    }
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        data = text.encode("utf-8")  # a lone surrogate has no UTF-8 form
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit event is not plain JSON: {exc}") from exc
    return hashlib.sha256(data).hexdigest()


def chain_event(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    kind: str,
    subject: str,
    payload: dict[str, Any],
    event_id: int | None = None,
) -> AuditEvent:
    """A new event chained to ``prev_hash``, its hash computed (see :func:`event_hash`)."""
    digest = event_hash(
        prev_hash=prev_hash, at=at, actor=actor, kind=kind, subject=subject, payload=payload
    )
    return AuditEvent(
        id=event_id,
        at=at.astimezone(UTC),
        actor=str(actor),
        kind=str(kind),
        subject=str(subject),
        payload=payload,
        prev_hash=prev_hash,
        hash=digest,
    )


def recomputed_hash(event: AuditEvent) -> str:
    """The hash ``event`` should carry given its content."""
    return event_hash(
        prev_hash=event.prev_hash,
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        subject=event.subject,
        payload=event.payload,
    )


def verify_chain(events: Iterable[AuditEvent], *, after: AuditEvent | None = None) -> ChainReport:
    """Check a chain read in id order; stop at the first problem.

    Streams: it holds at most three events, so a chain of any length can be checked from a
    cursor. Every event must carry an id (``ValueError`` otherwise). With ``after``, the
    events are the rest of a chain whose event ``after`` is already known to be good (an
    anchored one): the first must follow it, and only the events given are counted.
    """
    checked = 0
    prev: AuditEvent | None = after
    # A broken link between two intact-looking events: which of them is at fault depends on
    # whether the next event vouches for the later one, so the verdict waits one event.
    suspect: tuple[AuditEvent, AuditEvent] | None = None
    for event in events:
        _id(event)
        checked += 1
        if suspect is not None:
            return _judge_broken_link(*suspect, event, checked)
        problem = _check_one(prev, event)
        if problem is not None:
            first_bad_id, reason = problem
            return ChainReport(ok=False, checked=checked, first_bad_id=first_bad_id, reason=reason)
        if prev is not None and event.prev_hash != prev.hash:
            suspect = (prev, event)
        prev = event
    if suspect is not None:
        return _judge_broken_link(*suspect, None, checked)
    return ChainReport(ok=True, checked=checked, first_bad_id=None, reason="")


def _check_one(prev: AuditEvent | None, event: AuditEvent) -> tuple[int, str] | None:
    """What is wrong with ``event`` that needs no later event to decide, if anything."""
    this = _id(event)
    before = None if prev is None else _id(prev)
    if before is not None and this <= before:
        return this, f"event {this} comes after event {before}: the events are not in id order"
    if recomputed_hash(event) != event.hash:
        return this, f"event {this} was altered (its hash does not match its content)"
    if prev is None or before is None:
        if _starts_chain(event):
            return None
        if this > 1:
            # Both backends number events from 1, so the missing ones start there.
            return 1, (
                f"event {this} does not start the chain (its prev_hash is not the genesis "
                f"hash): {_ids_text(1, this - 1)} deleted"
            )
        return this, (
            f"event {this} does not start the chain (its prev_hash is not the genesis "
            "hash): it was replaced or moved"
        )
    if event.prev_hash == prev.hash:
        return None
    if event.prev_hash == prev.prev_hash:
        return before, (
            f"event {this} does not follow event {before}: both follow the same event "
            f"(event {before} was inserted, or the chain forked)"
        )
    if this > before + 1:
        return before + 1, (
            f"event ids jump from {before} to {this}: {_ids_text(before + 1, this - 1)} deleted"
        )
    return None


def _judge_broken_link(
    prev: AuditEvent, event: AuditEvent, following: AuditEvent | None, checked: int
) -> ChainReport:
    before, this = _id(prev), _id(event)
    if following is not None and following.prev_hash != event.hash:
        # Nothing vouches for ``event``: it is the one out of place.
        return ChainReport(
            ok=False,
            checked=checked,
            first_bad_id=this,
            reason=(
                f"event {this} is out of place: it does not follow event {before}, and "
                f"event {following.id} does not follow it (events were reordered or replaced)"
            ),
        )
    # The next event vouches for ``event`` (or there is none): the break is on the far side.
    return ChainReport(
        ok=False,
        checked=checked,
        first_bad_id=before,
        reason=(
            f"event {this} does not follow event {before}: event {before} was rewritten "
            f"and its hash recomputed (or event {this}'s link was, or events between "
            "them were deleted and the rest renumbered)"
        ),
    )


def _starts_chain(event: AuditEvent) -> bool:
    if event.prev_hash == GENESIS_HASH:
        return True
    # The retention hook: a checkpoint stands for the pruned events before it.
    return (
        event.kind == EventKind.CHECKPOINT.value
        and event.payload.get("prev_hash") == event.prev_hash
    )


def _id(event: AuditEvent) -> int:
    if event.id is None:
        raise ValueError("verify_chain needs recorded events (an event has no id)")
    return event.id


def _ids_text(first: int, last: int) -> str:
    if first == last:
        return f"event {first} was"
    return f"events {first} to {last} were"
