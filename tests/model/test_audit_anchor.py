"""Anchors of the audit chain: their file, their commits, and what a chain must agree with."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.model.audit import AuditEvent, verify_chain
from runbook.model.audit_anchor import (
    Anchor,
    AnchorCheck,
    AnchorFormatError,
    anchor_file_text,
    anchor_message,
    compare_histories,
    latest_for,
    parse_anchor_file,
    parse_anchor_message,
)
from tests.model.test_audit import build_chain, renumbered

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STORE = "sqlite:.runbook/runbook.db"


def anchor_at(events: list[AuditEvent], index: int, store: str = STORE) -> Anchor:
    """The anchor taken when ``events[index]`` was the head."""
    event = events[index]
    assert event.id is not None
    return Anchor(
        store=store,
        event_id=event.id,
        hash=event.hash,
        count=index + 1,
        event_at=event.at,
        anchored_at=T0 + timedelta(hours=index),
        reason=f"run r-{index} finished",
    )


def check(events: list[AuditEvent], anchors: list[Anchor]) -> list[str]:
    checker = AnchorCheck(anchors)
    for event in events:
        checker.see(event)
    return checker.findings()


def test_the_file_and_the_commit_message_round_trip() -> None:
    events = build_chain(5)
    anchors = [anchor_at(events, 1), anchor_at(events, 4, "postgresql://u@db/ops")]
    text = anchor_file_text(anchors)
    assert parse_anchor_file(text, "f") == anchors
    assert json.loads(text)["format"] == "runbook-audit-anchor/1"
    for anchor in anchors:
        message = anchor_message(anchor)
        assert message.startswith(f"audit anchor: event {anchor.event_id} ")
        assert parse_anchor_message(message, "c") == anchor
    assert latest_for(anchors, STORE) == anchors[0]
    assert latest_for(anchors, "other") is None
    assert parse_anchor_file(anchor_file_text([]), "f") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "f: not JSON"),
        ("[]", "f: not a runbook anchor file"),
        ('{"format": "x", "anchors": []}', "f: not a runbook anchor file"),
        ('{"format": "runbook-audit-anchor/1"}', "'anchors' must be a list"),
        ('{"format": "runbook-audit-anchor/1", "anchors": [1]}', "anchor 1: an anchor must be"),
        ('{"format": "runbook-audit-anchor/1", "anchors": [{}]}', "anchor 1: store is missing"),
    ],
)
def test_a_malformed_file_is_named(text: str, message: str) -> None:
    with pytest.raises(AnchorFormatError, match=message):
        parse_anchor_file(text, "f")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_id": 0}, "event_id must be an integer of at least 1"),
        ({"count": True}, "count must be an integer"),
        ({"hash": "z" * 64}, "hash is not a sha256"),
        ({"anchored_at": "2025-03-01T12:00:00"}, "anchored_at must have a timezone"),
        ({"event_at": "yesterday"}, "Invalid isoformat"),
        ({"reason": ""}, "reason must be a non-empty string"),
    ],
)
def test_a_malformed_anchor_is_named(change: dict[str, object], message: str) -> None:
    value = {**anchor_at(build_chain(1), 0).to_json(), **change}
    with pytest.raises(AnchorFormatError, match=message):
        Anchor.from_json(value, "anchor 3")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.binary().map(lambda b: b.decode("latin-1")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
        ).map(lambda v: json.dumps({"format": "runbook-audit-anchor/1", "anchors": v})),
    )
)
def test_garbage_is_refused_with_a_clear_error_never_another(text: str) -> None:
    try:
        parse_anchor_file(text, "f")
    except AnchorFormatError as error:
        assert str(error).startswith("f:")
    try:
        parse_anchor_message(text, "c")
    except AnchorFormatError as error:
        assert str(error).startswith("c:")


def test_a_chain_that_grew_since_its_anchors_agrees_with_them() -> None:
    events = build_chain(10)
    assert check(events, [anchor_at(events, 0), anchor_at(events, 4), anchor_at(events, 9)]) == []


def test_a_wiped_log_fails_against_its_anchor() -> None:
    events = build_chain(40)
    (finding,) = check([], [anchor_at(events, 20), anchor_at(events, 39)])
    assert finding.startswith("the log is empty, but the anchor of ")
    assert "(event 40, 40 events)" in finding and finding.endswith("the log was wiped")


def test_a_log_cut_short_fails_against_its_newest_anchor() -> None:
    events = build_chain(12)
    (finding,) = check(events[:9], [anchor_at(events, 5), anchor_at(events, 11)])
    assert finding.startswith("the log ends at event 9 (9 events), but the anchor of ")
    assert "(event 12, 12 events)" in finding and "the newest events were deleted" in finding
    # Every verdict of the chain alone: intact.
    assert verify_chain(events[:9]).ok


def test_a_rewritten_chain_fails_against_the_anchor_after_the_edit() -> None:
    events = build_chain(10)
    anchors = [anchor_at(events, 2), anchor_at(events, 6), anchor_at(events, 9)]
    rewritten = build_chain(10, texts=["forged"])  # every hash recomputed from event 1
    assert verify_chain(rewritten).ok
    (finding,) = check(rewritten, anchors)
    assert finding.startswith(f"event 3 has hash {rewritten[2].hash[:12]}…, but the anchor of")
    assert "the log was rewritten at or before event 3 (2 later anchors disagree too)" in finding


def test_events_deleted_before_an_anchor_are_found_by_its_count() -> None:
    events = build_chain(8)
    anchors = [anchor_at(events, 7)]
    # Events 2 and 3 gone, the rest renumbered and relinked would change the hashes; a
    # deletion that leaves the anchored event's hash as it was shows in the count.
    shortened = [events[0], *events[3:]]
    (finding,) = check(shortened, anchors)
    assert finding.startswith("6 events lead up to event 8, but the anchor of")
    assert finding.endswith("events before it were deleted")
    missing = [e for e in events if e.id != 5]
    assert check(missing, [anchor_at(events, 4)]) == [
        f"event 5, named by {anchor_at(events, 4).describe()}, is missing: events were deleted"
    ]


def test_the_source_of_an_anchor_is_named() -> None:
    events = build_chain(3)
    anchor = anchor_at(events, 2)
    checker = AnchorCheck([anchor], sources={anchor: ".runbook/audit-anchor.json and R"})
    (finding,) = checker.findings()
    assert "(event 3, 3 events) in .runbook/audit-anchor.json and R says it held 3" in finding


def test_renumbered_ids_do_not_pass_for_the_anchored_event() -> None:
    events = build_chain(6)
    anchor = anchor_at(events, 5)
    renumbered_chain = renumbered([*events[:2], *events[3:]])
    findings = check(renumbered_chain, [anchor])
    assert findings and "the log ends at event 5 (5 events)" in findings[0]


# -- the file and the ref --------------------------------------------------------------------


def test_histories_that_agree() -> None:
    events = build_chain(3)
    anchors = [anchor_at(events, n) for n in range(3)]
    assert compare_histories(anchors, list(anchors), "R").agree


def test_a_ref_behind_the_file_can_be_repaired_but_is_reported() -> None:
    events = build_chain(3)
    anchors = [anchor_at(events, n) for n in range(3)]
    agreement = compare_histories(anchors, anchors[:1], "R")
    assert not agreement.agree and agreement.ref_behind == 2
    assert agreement.problem.startswith("the git ref R lacks the newest 2 of the anchor file's 3")
    assert compare_histories(anchors, [], "R").ref_behind == 3


def test_a_file_behind_the_ref_or_differing_from_it_is_a_disagreement() -> None:
    events = build_chain(3)
    anchors = [anchor_at(events, n) for n in range(3)]
    behind = compare_histories(anchors[:2], anchors, "R")
    assert not behind.agree and behind.ref_behind == 0
    assert behind.problem.startswith("the anchor file lacks the newest 1 of the git ref R's 3")
    forged = [*anchors[:1], dataclasses.replace(anchors[1], hash="f" * 64), anchors[2]]
    differ = compare_histories(forged, anchors, "R")
    assert not differ.agree and differ.ref_behind == 0
    assert differ.problem.startswith("the anchor file and the git ref R disagree from anchor 2")
    assert not compare_histories([], anchors, "R").agree
