"""Reading runbooks as nbclient does: ids for old minors, repairs named, what cannot run refused."""

from __future__ import annotations

import json

import pytest

from runbook.errors import NotebookFormatError
from runbook.model.notebook import parse_wild_notebook


def _notebook(*cells: dict[str, object], minor: int = 4) -> str:
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": minor}
    )


def _code(source: str, **extra: object) -> dict[str, object]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
        **extra,
    }


def test_an_id_that_repeats_or_is_invalid_is_replaced_and_said() -> None:
    text = _notebook(_code("a", id="same"), _code("b", id="same"), _code("c", id="no spaces"))
    read = parse_wild_notebook(text, "x.ipynb")
    ids = [cell.id for cell in read.notebook.cells]
    assert ids[0] == "same" and len(set(ids)) == 3 and " " not in ids[2]
    assert read.warnings == (
        "x.ipynb: read as nbclient runs it: cells[1].id 'same' replaced (invalid or repeated); "
        "cells[2].id 'no spaces' replaced (invalid or repeated)",
    )


def test_repeated_tags_are_kept_once_and_tags_that_are_not_text_are_refused() -> None:
    tagged = _code("x = 1", metadata={"tags": ["confirm", "confirm"]})
    read = parse_wild_notebook(_notebook(tagged), "x.ipynb")
    assert read.notebook.cells[0].metadata.tags == ["confirm"]
    assert "cells[0].metadata.tags repeated: kept once" in read.warnings[0]
    with pytest.raises(NotebookFormatError, match=r"cells\[0\].metadata.tags must be a list"):
        parse_wild_notebook(_notebook(_code("x", metadata={"tags": "confirm"})), "x.ipynb")
