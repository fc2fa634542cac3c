"""The git clean filter: what it strips, what it must never touch, and its byte layout."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import NotebookFormatError
from runbook.model.strip import strip_notebook, strip_text

RUNBOOK_TAGS = [
    "parameters",
    "confirm",
    "precheck",
    "verify",
    "rollback",
    "manual",
    "skip-execution",
    "keep_output",
]

RUNBOOK_META = {
    "title": "Restart database",
    "description": "Restart the primary safely.",
    "owner": "sre",
    "version": "3",
    "tags": ["db"],
    "parameters": {"host": {"type": "str", "required": True, "help": "the host"}},
}

STREAM = {"name": "stdout", "output_type": "stream", "text": ["hello\n"]}


def executed_notebook() -> dict[str, Any]:
    """A notebook as Jupyter, papermill and widgets leave it after a run."""
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "intro",
                "metadata": {"tags": ["manual"], "jupyter": {"source_hidden": True}},
                "source": ["# Restart database\n", "Announce it first."],
            },
            {
                "cell_type": "code",
                "execution_count": 3,
                "id": "params",
                "metadata": {
                    "tags": ["parameters"],
                    "execution": {"iopub.execute_input": "2026-01-01T00:00:00Z"},
                    "ExecuteTime": {"end_time": "2026-01-01T00:00:01Z"},
                    "collapsed": False,
                    "scrolled": True,
                    "papermill": {"duration": 0.1, "status": "completed"},
                    "jupyter": {"source_hidden": True},
                },
                "outputs": [STREAM],
                "source": ['host = "db1"'],
            },
            {
                "cell_type": "code",
                "execution_count": 4,
                "id": "pinned",
                "metadata": {"tags": ["keep_output", "verify"], "ExecuteTime": {"x": 1}},
                "outputs": [STREAM],
                "source": ["print('hello')"],
            },
            {"cell_type": "raw", "id": "raw", "metadata": {"tags": ["rollback"]}, "source": "x"},
        ],
        "metadata": {
            "runbook": copy.deepcopy(RUNBOOK_META),
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "signature": "sha256:abc",
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
            "papermill": {"parameters": {"host": "db1"}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def tags_of(nb: dict[str, Any]) -> list[list[str]]:
    return [cell.get("metadata", {}).get("tags", []) for cell in nb["cells"]]


def test_outputs_counts_and_volatile_metadata_are_removed() -> None:
    stripped = strip_notebook(executed_notebook())
    params = stripped["cells"][1]
    assert params["outputs"] == []
    assert params["execution_count"] is None
    assert set(params["metadata"]) == {"tags", "jupyter"}
    assert set(stripped["metadata"]) == {"runbook", "kernelspec"}


def test_meaningful_content_is_kept() -> None:
    original = executed_notebook()
    stripped = strip_notebook(original)
    assert stripped["metadata"]["runbook"] == RUNBOOK_META
    assert tags_of(stripped) == tags_of(original)
    assert [cell["id"] for cell in stripped["cells"]] == ["intro", "params", "pinned", "raw"]
    assert stripped["cells"][0] == original["cells"][0]
    assert stripped["cells"][1]["metadata"]["jupyter"] == {"source_hidden": True}
    assert stripped["cells"][1]["source"] == ['host = "db1"']
    assert stripped["cells"][3] == original["cells"][3]
    assert (stripped["nbformat"], stripped["nbformat_minor"]) == (4, 5)


def test_keep_output_tag_keeps_outputs_and_count() -> None:
    pinned = strip_notebook(executed_notebook())["cells"][2]
    assert pinned["outputs"] == [STREAM]
    assert pinned["execution_count"] == 4
    # Volatile metadata goes even from a pinned cell: it is not output.
    assert pinned["metadata"] == {"tags": ["keep_output", "verify"]}


def test_code_cell_without_outputs_key_gets_the_required_fields() -> None:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": ""}], "metadata": {}}
    cell = strip_notebook(nb)["cells"][0]
    assert cell["outputs"] == []
    assert cell["execution_count"] is None


def test_idempotent() -> None:
    once = strip_notebook(executed_notebook())
    assert strip_notebook(once) == once
    text = json.dumps(executed_notebook())
    assert strip_text(strip_text(text)) == strip_text(text)


def test_input_is_not_mutated_and_result_shares_nothing() -> None:
    original = executed_notebook()
    before = copy.deepcopy(original)
    stripped = strip_notebook(original)
    assert original == before
    stripped["metadata"]["runbook"]["tags"].append("changed")
    stripped["cells"][0]["metadata"]["tags"].append("changed")
    stripped["cells"][2]["outputs"][0]["text"].append("changed")
    assert original == before


def test_round_trips_a_notebook_written_by_nbformat_byte_for_byte(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Redémarrage ✓\n\nÉtape « manuelle »", id="intro"),
            nbformat.v4.new_code_cell(
                'host = "db1"  # the host\ndry_run = False',
                id="params",
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell(
                "print('ok')", id="step", metadata={"tags": ["confirm", "keep_output"]}
            ),
            nbformat.v4.new_raw_cell("raw text", id="raw"),
        ],
        metadata={
            "runbook": RUNBOOK_META,
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    path = tmp_path / "clean.ipynb"
    nbformat.write(nb, path)
    text = path.read_text(encoding="utf-8")
    assert strip_text(text, str(path)) == text


def test_stripping_an_executed_notebook_gives_what_jupyter_writes_without_outputs() -> None:
    executed = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "print('hello')",
                id="step",
                execution_count=7,
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="hello\n")],
                metadata={"tags": ["verify"], "execution": {"shell.execute_reply": "now"}},
            )
        ],
        metadata={"papermill": {"duration": 1.0}},
    )
    clean = copy.deepcopy(executed)
    clean.cells[0].outputs = []
    clean.cells[0].execution_count = None
    del clean.cells[0].metadata["execution"]
    del clean.metadata["papermill"]
    assert strip_text(nbformat.writes(executed)) == nbformat.writes(clean) + "\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "invalid JSON"),
        ("", "invalid JSON"),
        ("[1, 2]", "top level is a JSON array"),
        ('"cells"', "top level is a JSON string"),
        ('{"metadata": {}}', "no 'cells' list"),
        ('{"cells": {}}', "'cells' is a JSON object, not a list"),
        ('{"cells": [1]}', "cell 0 is a JSON number"),
        ("[" * 100_000, "JSON"),
    ],
)
def test_bad_input_raises_notebook_format_error(text: str, reason: str) -> None:
    with pytest.raises(NotebookFormatError) as caught:
        strip_text(text, "runbooks/broken.ipynb")
    assert caught.value.path == "runbooks/broken.ipynb"
    assert reason in caught.value.reason
    assert str(caught.value).startswith("runbooks/broken.ipynb: not a valid notebook")


# Random notebooks: every runbook tag, random strings as tags, volatile metadata and outputs.

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
tags = st.lists(st.sampled_from(RUNBOOK_TAGS) | st.text(min_size=1, max_size=12), max_size=5)
cell_metadata = st.fixed_dictionaries(
    {"tags": tags},
    optional=dict.fromkeys(
        ("execution", "ExecuteTime", "collapsed", "scrolled", "papermill", "jupyter"), json_values
    ),
)
outputs = st.lists(
    st.fixed_dictionaries(
        {"output_type": st.just("stream"), "name": st.just("stdout"), "text": st.text()}
    ),
    max_size=3,
)


@st.composite
def cells(draw: st.DrawFn) -> dict[str, Any]:
    cell_type = draw(st.sampled_from(["code", "markdown", "raw"]))
    cell: dict[str, Any] = {
        "cell_type": cell_type,
        "id": draw(st.text(min_size=1, max_size=10)),
        "metadata": draw(cell_metadata),
        "source": draw(st.text() | st.lists(st.text(), max_size=3)),
    }
    if cell_type == "code":
        cell["outputs"] = draw(outputs)
        cell["execution_count"] = draw(st.none() | st.integers(min_value=1))
    return cell


notebooks = st.fixed_dictionaries(
    {
        "cells": st.lists(cells(), max_size=8),
        "metadata": st.fixed_dictionaries(
            {"runbook": st.just(RUNBOOK_META)},
            optional=dict.fromkeys(("signature", "widgets", "papermill"), json_values),
        ),
        "nbformat": st.just(4),
        "nbformat_minor": st.just(5),
    }
)


@settings(max_examples=200, deadline=None)
@given(notebooks)
def test_property_idempotent_and_never_drops_or_reorders_tags_or_cells(
    nb: dict[str, Any],
) -> None:
    before = copy.deepcopy(nb)
    stripped = strip_notebook(nb)
    assert nb == before
    assert strip_notebook(stripped) == stripped
    assert [cell["id"] for cell in stripped["cells"]] == [cell["id"] for cell in nb["cells"]]
    assert [c["source"] for c in stripped["cells"]] == [c["source"] for c in nb["cells"]]
    assert tags_of(stripped) == tags_of(nb)
    assert stripped["metadata"] == {"runbook": RUNBOOK_META}
    for original, cell in zip(nb["cells"], stripped["cells"], strict=True):
        if cell["cell_type"] != "code":
            continue
        if "keep_output" in original["metadata"]["tags"]:
            assert cell["outputs"] == original["outputs"]
            assert cell["execution_count"] == original["execution_count"]
        else:
            assert (cell["outputs"], cell["execution_count"]) == ([], None)
    text = strip_text(json.dumps(nb))
    assert strip_text(text) == text
    assert json.loads(text) == stripped
