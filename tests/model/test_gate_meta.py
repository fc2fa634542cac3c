"""``metadata.runbook.gate``: who may decide the gates of a run without a terminal."""

from __future__ import annotations

import pytest

from runbook.errors import MetadataError
from runbook.model.gates import GATE_OPTIONS, GateKind, parse_cell
from runbook.model.notebook import parse_meta
from runbook.model.run import Decision


def test_gate_other_is_read_and_anything_else_refused() -> None:
    assert parse_meta({"title": "t", "gate": "other"}, "r.ipynb", "t").gate == "other"
    assert parse_meta({"title": "t"}, "r.ipynb", "t").gate == ""
    with pytest.raises(MetadataError, match="gate"):
        parse_meta({"title": "t", "gate": "anyone"}, "r.ipynb", "t")


def test_each_gate_takes_the_terminals_choices() -> None:
    assert GATE_OPTIONS[GateKind.MANUAL][0] is Decision.ACKNOWLEDGED
    assert Decision.RETRY in GATE_OPTIONS[GateKind.FAILURE]
    assert Decision.RETRY not in GATE_OPTIONS[GateKind.CONFIRM]
    assert (parse_cell("3"), parse_cell("a-cell")) == (3, "a-cell")
