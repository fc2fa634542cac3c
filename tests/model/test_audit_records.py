"""The records against the events: what each disagreement is called."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.model.audit import AuditEvent, EventKind
from runbook.model.audit_facts import RecordFacts, plan_facts, review_facts, run_facts
from runbook.model.audit_records import Ledger, cross_check

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def event(number: int, kind: str, subject: str, actor: str = "alice", **payload: Any) -> AuditEvent:
    return AuditEvent(
        id=number,
        at=T0,
        actor=actor,
        kind=kind,
        subject=subject,
        payload=payload,
        prev_hash="0" * 64,
        hash=f"{number:064x}",
    )


def ledger_of(*events: AuditEvent) -> Ledger:
    ledger = Ledger()
    for item in events:
        ledger.see(item)
    return ledger


PLAN = plan_facts(
    plan_id="p-1",
    runbook_path="runbooks/r.ipynb",
    sha256="a" * 64,
    parameters={"host": "db1"},
    planned_by="alice",
    planned_at=T0,
    review_required=True,
    state="approved",
)
CREATED = event(
    1,
    EventKind.PLAN_CREATED,
    "plan:p-1",
    runbook="runbooks/r.ipynb",
    sha256="a" * 64,
    parameters={"host": "db1"},
    review_required=True,
)
REVIEW = review_facts(
    review_id=1,
    plan_id="p-1",
    verdict="approved",
    reviewer="bob",
    plan_sha256="a" * 64,
    comment=None,
    reviewed_at=T0,
)
REVIEWED = event(
    2,
    EventKind.REVIEW_RECORDED,
    "plan:p-1",
    actor="bob",
    verdict="approved",
    plan_sha256="a" * 64,
    comment=None,
)
RUN = run_facts(
    run_id="r-1",
    plan_id="p-1",
    executor="alice",
    mode="automatic",
    start_cell=0,
    resumed_from=None,
    state="succeeded",
)
STARTED = event(3, EventKind.RUN_STARTED, "run:r-1", plan="p-1", mode="automatic", start_cell=0)
FINISHED = event(4, EventKind.RUN_FINISHED, "run:r-1", state="succeeded")


def messages(ledger: Ledger, records: list[RecordFacts]) -> list[str]:
    return [finding.message for finding in cross_check(ledger, records)]


def test_records_that_match_their_events() -> None:
    ledger = ledger_of(CREATED, REVIEWED, STARTED, FINISHED)
    assert messages(ledger, [PLAN, REVIEW, RUN]) == []


def test_a_run_that_ended_without_an_end_event_and_a_running_one_that_ended() -> None:
    assert messages(ledger_of(CREATED, REVIEWED, STARTED), [PLAN, REVIEW, RUN]) == [
        'run r-1 is "succeeded" in the store, but its audit events say "running"'
    ]
    interrupted = event(5, EventKind.RUN_STATE, "run:r-1", state="interrupted")
    ledger = ledger_of(CREATED, REVIEWED, STARTED, FINISHED, interrupted)
    assert messages(ledger, [PLAN, REVIEW, RUN]) == [
        'run r-1 is "succeeded" in the store, but its audit events say "interrupted"'
    ]


def test_a_second_review_event_without_its_row_is_a_deleted_review() -> None:
    rejected = event(5, EventKind.REVIEW_RECORDED, "plan:p-1", actor="carol", verdict="rejected")
    ledger = ledger_of(CREATED, REVIEWED, rejected)
    found = messages(ledger, [PLAN, REVIEW])
    assert found == [
        'plan p-1 is "approved" in the store, but its audit events say "rejected"',
        'review.recorded event 5 (plan p-1, "rejected" by "carol") has no review record: the '
        "review was deleted from the store",
    ]


def test_records_removed_by_gc_are_not_deletions() -> None:
    gc = event(5, EventKind.RETENTION_GC, "retention", removed={"runs": ["r-1"]})
    assert messages(ledger_of(CREATED, REVIEWED, STARTED, FINISHED, gc), [PLAN, REVIEW]) == []
    assert messages(ledger_of(CREATED, REVIEWED, STARTED, FINISHED), [PLAN, REVIEW]) == [
        "run r-1 has audit events (from event 3) but no record: it was deleted from the "
        "store outside `runbook gc`"
    ]


def test_long_values_are_cut_in_messages() -> None:
    changed = RecordFacts(
        **{**PLAN.__dict__, "payload": {**PLAN.payload, "parameters": {"x": "y" * 200}}}
    )
    (found,) = messages(ledger_of(CREATED, REVIEWED), [changed, REVIEW])
    assert found.startswith(
        'plan p-1 differs from its plan.created event 1: parameters is {"x": "yyy'
    )
    assert len(found) < 220 and "…" in found


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(st.sampled_from([k.value for k in EventKind]), min_size=1, max_size=6),
    subjects=st.lists(
        st.sampled_from(["plan:p-1", "run:r-1", "workflow:", "playbook:x", "z"]),
        min_size=6,
        max_size=6,
    ),
    payloads=st.lists(JSON, min_size=6, max_size=6),
)
def test_garbage_payloads_never_break_the_cross_check(
    kinds: list[str], subjects: list[str], payloads: list[Any]
) -> None:
    ledger = Ledger()
    for number, kind in enumerate(kinds):
        ledger.see(
            AuditEvent(
                id=number + 1,
                at=T0,
                actor="a",
                kind=kind,
                subject=subjects[number],
                payload=payloads[number],
                prev_hash="0" * 64,
                hash="1" * 64,
            )
        )
    for finding in cross_check(ledger, [PLAN, REVIEW, RUN]):
        assert "\n" not in finding.message
