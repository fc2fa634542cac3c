"""Plan record functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, UnknownPlanError
from runbook.model.plan import Plan, PlanState
from runbook.store.db import session_scope
from runbook.store.plans import create_plan, get_plan, list_plans, plan_ids, set_plan_state

MakePlan = Callable[..., Plan]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_round_trip(engine: Engine, make_plan: MakePlan) -> None:
    paris = timezone(timedelta(hours=2))
    plan = make_plan(
        "p-round",
        planned_at=datetime(2025, 6, 30, 23, 59, 58, 123456, tzinfo=paris),
        parameters={
            "hosts": ["web-1", ["nested", 2, None]],
            "note": "Zürich ☃ 東京 \U0001f680",
            "limits": {"cpu": 1.5, "on": True, "off": False},
            "empty": {},
            "quote": 'it\'s "quoted" \\ and \n newline',
        },
        review_required=False,
        content='{"cells":[{"source":"print(1)"}]}',
    )
    with session_scope(engine) as session:
        create_plan(session, plan)
    # A new session: the values come from the database, not the identity map.
    with session_scope(engine) as session:
        loaded = get_plan(session, "p-round")
    assert loaded == plan
    assert loaded.planned_at.tzinfo is UTC
    assert loaded.planned_at == datetime(2025, 6, 30, 21, 59, 58, 123456, tzinfo=UTC)
    assert loaded.state is PlanState.PLANNED
    assert loaded.review_required is False


def test_naive_planned_at_is_refused(session: Session, make_plan: MakePlan) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        create_plan(session, make_plan(planned_at=datetime(2025, 1, 1)))  # noqa: DTZ001
    assert list_plans(session) == []


def test_parameters_must_be_plain_json(session: Session, make_plan: MakePlan) -> None:
    with pytest.raises(ValueError, match="not plain JSON"):
        create_plan(session, make_plan(parameters={"when": T0}))
    with pytest.raises(ValueError, match="not plain JSON"):
        create_plan(session, make_plan(parameters={"ratio": float("nan")}))


def test_duplicate_id_is_refused_and_session_stays_usable(
    engine: Engine, make_plan: MakePlan
) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("dup"))
    with session_scope(engine) as session:
        with pytest.raises(AlreadyExistsError, match="plan dup already exists"):
            create_plan(session, make_plan("dup", title="other"))
        create_plan(session, make_plan("after-dup"))
    with session_scope(engine) as session:
        assert get_plan(session, "dup").title == "Restart the web tier"
        assert plan_ids(session) == ["after-dup", "dup"]


def test_duplicate_id_in_the_same_session(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("twice"))
    with pytest.raises(AlreadyExistsError):
        create_plan(session, make_plan("twice"))
    assert plan_ids(session) == ["twice"]


def test_duplicate_lost_race_is_already_exists(
    engine: Engine, make_plan: MakePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer inserts between our existence check and our INSERT: the INSERT fails
    # inside a savepoint, and the caller's transaction must stay usable (PostgreSQL would
    # otherwise refuse every further statement).
    with session_scope(engine) as session:
        create_plan(session, make_plan("race"))
    monkeypatch.setattr(Session, "get", lambda *_args, **_kwargs: None)
    with session_scope(engine) as session:
        with pytest.raises(AlreadyExistsError, match="plan race"):
            create_plan(session, make_plan("race", title="loser"))
        create_plan(session, make_plan("race-2"))
    monkeypatch.undo()
    with session_scope(engine) as session:
        assert plan_ids(session) == ["race", "race-2"]
        assert get_plan(session, "race").title == "Restart the web tier"


def test_get_unknown_plan(session: Session) -> None:
    with pytest.raises(UnknownPlanError, match="nope: no such plan"):
        get_plan(session, "nope")


def test_list_plans_newest_first_with_filter_and_limit(
    session: Session, make_plan: MakePlan
) -> None:
    create_plan(session, make_plan("b-old", planned_at=T0))
    create_plan(session, make_plan("c-new", planned_at=T0 + timedelta(hours=1)))
    # Same instant as b-old: the id breaks the tie, descending.
    create_plan(session, make_plan("a-old", planned_at=T0))
    create_plan(
        session,
        make_plan("d-other", planned_at=T0 + timedelta(hours=2), runbook_path="runbooks/x.ipynb"),
    )
    assert [p.id for p in list_plans(session)] == ["d-other", "c-new", "b-old", "a-old"]
    assert [p.id for p in list_plans(session, limit=2)] == ["d-other", "c-new"]
    assert list_plans(session, limit=0) == []
    by_path = list_plans(session, runbook_path="runbooks/restart.ipynb")
    assert [p.id for p in by_path] == ["c-new", "b-old", "a-old"]
    assert list_plans(session, runbook_path="runbooks/none.ipynb") == []
    with pytest.raises(ValueError, match="limit"):
        list_plans(session, limit=-1)


def test_list_plans_orders_by_instant_not_by_offset(session: Session, make_plan: MakePlan) -> None:
    # 13:00+02:00 is 11:00 UTC: earlier than 12:00 UTC although its wall clock is later.
    create_plan(session, make_plan("utc-noon", planned_at=T0))
    create_plan(
        session,
        make_plan(
            "plus-two", planned_at=datetime(2025, 3, 1, 13, tzinfo=timezone(timedelta(hours=2)))
        ),
    )
    assert [p.id for p in list_plans(session)] == ["utc-noon", "plus-two"]


def test_plan_ids_prefix(session: Session, make_plan: MakePlan) -> None:
    for plan_id in ["ab-2", "ab-1", "Ab-3", "b-1", "a_x", "a%y", "abc"]:
        create_plan(session, make_plan(plan_id))
    assert plan_ids(session) == ["Ab-3", "a%y", "a_x", "ab-1", "ab-2", "abc", "b-1"]
    assert plan_ids(session, "ab") == ["ab-1", "ab-2", "abc"]
    assert plan_ids(session, "ab-") == ["ab-1", "ab-2"]
    # Case-sensitive, and LIKE wildcards in the prefix are plain characters.
    assert plan_ids(session, "A") == ["Ab-3"]
    assert plan_ids(session, "a_") == ["a_x"]
    assert plan_ids(session, "a%") == ["a%y"]
    assert plan_ids(session, "zzz") == []


def test_set_plan_state(engine: Engine, make_plan: MakePlan) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("s-1"))
        create_plan(session, make_plan("s-2"))
    with session_scope(engine) as session:
        set_plan_state(session, "s-1", PlanState.APPROVED)
        assert get_plan(session, "s-1").state is PlanState.APPROVED
    with session_scope(engine) as session:
        assert get_plan(session, "s-1").state is PlanState.APPROVED
        assert get_plan(session, "s-2").state is PlanState.PLANNED
        set_plan_state(session, "s-1", PlanState.REJECTED)
    with session_scope(engine) as session:
        assert get_plan(session, "s-1").state is PlanState.REJECTED


def test_set_state_of_unknown_plan(session: Session) -> None:
    with pytest.raises(UnknownPlanError):
        set_plan_state(session, "ghost", PlanState.APPROVED)


def test_returned_parameters_are_not_aliased(session: Session, make_plan: MakePlan) -> None:
    params: dict[str, Any] = {"hosts": ["a"]}
    create_plan(session, make_plan("alias", parameters=params))
    params["hosts"].append("b")
    first = get_plan(session, "alias")
    first.parameters["hosts"].append("c")
    assert get_plan(session, "alias").parameters == {"hosts": ["a"]}


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.builds(
        timezone,
        st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m)),
    ),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    # The engine is shared across examples on purpose; each example uses a fresh plan id.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    parameters=st.dictionaries(st.text(max_size=10), _json_values, max_size=5),
    when=_aware_datetimes,
)
def test_round_trip_property(
    engine: Engine, make_plan: MakePlan, parameters: dict[str, Any], when: datetime
) -> None:
    plan = make_plan(uuid.uuid4().hex, parameters=parameters, planned_at=when)
    with session_scope(engine) as session:
        create_plan(session, plan)
    with session_scope(engine) as session:
        loaded = get_plan(session, plan.id)
    assert loaded.parameters == parameters
    assert loaded.planned_at == when
    assert loaded.planned_at.tzinfo is UTC
