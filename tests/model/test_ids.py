"""Id formats: what Runbook generates matches them, and a path built from an id stays put."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import PathEscapeError
from runbook.model.ids import IdKind, check_id, id_path, is_id, kind_of
from runbook.model.playbooks.playbook_run import new_playbook_run_id
from runbook.model.run import new_run_id
from runbook.model.workflows.workflow_run import new_workflow_run_id
from runbook.orchestrate.planning import new_plan_id

HOSTILE = [
    "../../victim",
    "..",
    ".",
    "",
    "/etc",
    "plans",
    "20261123-120000-abcd/../../x",
    "20261123-120000-abcd\n",
    "20261123-120000-ABCD",
    "wf-../../x",
    "a\x00b",
    "restart-a1b2c3/..",
    "-a1b2c3",
]


# hypothesis takes naive bounds and adds the zone itself.
_SINCE_2000 = datetime(2000, 1, 1)  # noqa: DTZ001


@given(st.datetimes(_SINCE_2000, timezones=st.just(UTC)), st.text())
def test_every_generated_id_matches_its_format(moment: datetime, title: str) -> None:
    assert is_id(IdKind.RUN, new_run_id(moment))
    assert is_id(IdKind.WORKFLOW_RUN, new_workflow_run_id(moment))
    assert is_id(IdKind.PLAYBOOK_RUN, new_playbook_run_id(moment))
    assert is_id(IdKind.PLAN, new_plan_id(title))
    assert kind_of(new_run_id(moment)) is IdKind.RUN
    assert kind_of(new_workflow_run_id(moment)) is IdKind.WORKFLOW_RUN
    assert kind_of(new_plan_id(title)) is None


@pytest.mark.parametrize("kind", list(IdKind))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_are_refused_in_one_line(kind: IdKind, hostile: str, tmp_path: Path) -> None:
    with pytest.raises(PathEscapeError, match=f"is not a {kind} id") as refused:
        id_path(tmp_path, kind, hostile)
    assert "\n" not in str(refused.value) and "\x00" not in str(refused.value)


def test_a_non_text_id_is_refused() -> None:
    with pytest.raises(PathEscapeError, match="is not a run id"):
        check_id(IdKind.RUN, 42)


@settings(max_examples=500)
@given(st.text(), st.sampled_from(list(IdKind)))
def test_a_path_from_any_text_is_refused_or_exactly_one_entry_of_its_base(
    text: str, kind: IdKind
) -> None:
    base = Path("/nonexistent-runbook-base/runs")
    try:
        path = id_path(base, kind, text)
    except PathEscapeError:
        return
    assert path.parent == base and path.name == text


def test_a_link_is_never_followed(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "20261123-120000-abcd").symlink_to(tmp_path)
    with pytest.raises(PathEscapeError, match="is a link"):
        id_path(tmp_path / "runs", IdKind.RUN, "20261123-120000-abcd")
    plan = id_path(tmp_path / "runs", IdKind.PLAN, "restart-a1b2c3", ".ipynb")
    assert plan == tmp_path.resolve() / "runs" / "restart-a1b2c3.ipynb"
