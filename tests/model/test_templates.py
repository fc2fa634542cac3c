"""Templates: listing, lookup, slugs, rendering, and the built-ins themselves."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from runbook.errors import MetadataError, NotebookFormatError, UnknownTemplateError
from runbook.model.strip import strip_text
from runbook.model.templates import (
    BUILTIN_TEMPLATES_DIR,
    Template,
    find_template,
    list_templates,
    render_template,
    slugify,
)

DEFAULT_DESCRIPTION = (
    "Operational procedure with pre-checks, gated execution, verification and rollback."
)
DEFAULT_RUNBOOK_METADATA = (  # as the brief specifies it, in JSON to keep it compact
    '{"title": "{{ title }}", "description": "Operational procedure with pre-checks, gated '
    'execution, verification and rollback.", "owner": "", "version": "1", "tags": [], '
    '"parameters": {"host": {"type": "str", "required": true, "help": "the host to act on", '
    '"default": "localhost"}, "dry_run": {"type": "bool", "default": false, '
    '"help": "print mutative commands instead of running them"}}}'
)
REPORT_DESCRIPTION = "Scheduled report: gather, summarise and verify, rendered to HTML or PDF."
EVIL_TITLE = '"; import os #'


def fullwidth(text: str) -> str:
    """The fullwidth forms (U+FF01..) that NFKD folds back to ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def write_template(
    folder: Path, name: str, description: str = "mine", edit: Callable[[Any], None] | None = None
) -> Path:
    """Write a small template with outputs; ``edit`` changes the notebook before it is saved."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# {{ title }}"),
            nbformat.v4.new_code_cell(
                "x = 1",
                metadata={"tags": ["confirm"]},
                execution_count=2,
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")],
            ),
        ],
        metadata={"runbook": {"title": "{{ title }}", "description": description}},
    )
    if edit is not None:
        edit(nb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def repo_templates(tmp_path: Path) -> Path:
    return tmp_path / "templates"


# Listing and lookup


def test_builtins_are_listed_with_their_descriptions(repo_templates: Path) -> None:
    assert list_templates(repo_templates) == list_templates(None)  # folder does not exist
    assert list_templates(None) == [
        Template(
            "default", BUILTIN_TEMPLATES_DIR / "default.ipynb", "builtin", DEFAULT_DESCRIPTION
        ),
        Template("report", BUILTIN_TEMPLATES_DIR / "report.ipynb", "builtin", REPORT_DESCRIPTION),
    ]


def test_repository_templates_are_added_and_override_builtins(repo_templates: Path) -> None:
    write_template(repo_templates, "default", "our own default")
    write_template(repo_templates, "failover")
    (repo_templates / "notes.txt").write_text("not a template")
    (repo_templates / ".hidden.ipynb").write_text("{}")
    write_template(repo_templates / "nested", "deep")
    listed = list_templates(repo_templates)
    assert [(t.name, t.source, t.description) for t in listed] == [
        ("default", "repository", "our own default"),
        ("failover", "repository", "mine"),
        ("report", "builtin", REPORT_DESCRIPTION),
    ]
    assert listed[0].path == repo_templates / "default.ipynb"


def test_unreadable_template_is_listed_not_fatal(repo_templates: Path) -> None:
    repo_templates.mkdir()
    (repo_templates / "broken.ipynb").write_text("{ not json")
    (repo_templates / "array.ipynb").write_text("[]")
    (repo_templates / "bare.ipynb").write_text('{"cells": []}')
    described = {t.name: t.description for t in list_templates(repo_templates)}
    assert described["broken"].startswith("(unreadable: ")
    assert described["array"] == "(unreadable: not a JSON object)"
    assert described["bare"] == ""
    assert described["default"] == DEFAULT_DESCRIPTION


def test_find_template_prefers_the_repository(repo_templates: Path) -> None:
    path = write_template(repo_templates, "report")
    assert find_template("report", repo_templates).path == path
    assert find_template("default", repo_templates).source == "builtin"


@pytest.mark.parametrize("name", ["nope", "../default", "default.ipynb", ""])
def test_find_unknown_template_names_the_known_ones(repo_templates: Path, name: str) -> None:
    write_template(repo_templates, "failover")
    with pytest.raises(UnknownTemplateError) as caught:
        find_template(name, repo_templates)
    assert caught.value.name == name
    assert "known: default, failover, report" in str(caught.value)


# Slugs


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Restart database", "restart-database"),
        ("Élan vital \N{EN DASH} redémarrage!", "elan-vital-redemarrage"),
        ("  --Fail over   the DB (prod)--  ", "fail-over-the-db-prod"),
        ("Straße: Ölwechsel", "strasse-olwechsel"),
        (f"{fullwidth('FULLWIDTH')} {fullwidth('2026')}", "fullwidth-2026"),
        ("../../etc/passwd", "etc-passwd"),
        ("日本 runbook", "runbook"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_slugify_cuts_long_titles_at_a_word_boundary() -> None:
    full = "-".join(["rotate-the-certificates"] * 10)
    slug = slugify("Rotate the certificates " * 10)
    assert 70 < len(slug) <= 80
    assert full.startswith(slug)
    assert full[len(slug)] == "-"


def test_slugify_cuts_one_giant_word_hard() -> None:
    assert slugify("x" * 200) == "x" * 80


def test_slugify_keeps_a_word_ending_exactly_at_the_limit() -> None:
    title = "a" * 80 + " tail"
    assert slugify(title) == "a" * 80


@pytest.mark.parametrize("title", ["", "   ", "!!! \N{EN DASH} ???", "日本語"])
def test_slugify_without_letters_or_digits_is_an_error(title: str) -> None:
    with pytest.raises(ValueError, match="has no letters or digits to make a file name from"):
        slugify(title)


# Rendering


def test_render_fills_the_title_in_prose_and_metadata_and_sets_the_owner() -> None:
    nb = render_template(find_template("default", None), title="Restart database", owner="ana")
    assert nb.cells[0].source.startswith("# Restart database\n")
    assert nb.metadata.runbook.title == "Restart database"
    assert nb.metadata.runbook.owner == "ana"
    assert "{{ title }}" not in json.dumps(nb)
    nbformat.validate(nb)


def test_render_never_puts_the_title_into_code(repo_templates: Path) -> None:
    def placeholder_in_code(nb: Any) -> None:
        # A template that (wrongly) names the placeholder in code still gets no title there.
        nb.cells[1].source = 'title = "{{ title }}"'
        nb.cells.append(nbformat.v4.new_raw_cell("{{ title }}"))

    write_template(repo_templates, "sneaky", edit=placeholder_in_code)
    for template in (find_template("sneaky", repo_templates), *list_templates(None)):
        rendered = render_template(template, title=EVIL_TITLE, owner="ana")
        for cell in rendered.cells:
            if cell.cell_type != "markdown":
                assert EVIL_TITLE not in cell.source
                assert "import os" not in cell.source
        assert rendered.metadata.runbook.title == EVIL_TITLE
        assert any(EVIL_TITLE in cell.source for cell in rendered.cells)


@pytest.mark.parametrize("name", ["default", "report"])
def test_render_keeps_tags_and_code_exactly_and_gives_fresh_ids(name: str) -> None:
    template = find_template(name, None)
    original = nbformat.read(template.path, as_version=4)
    first = render_template(template, title="T", owner="o")
    second = render_template(template, title="T", owner="o")
    assert [tags(c) for c in first.cells] == [tags(c) for c in original.cells]
    assert [c.cell_type for c in first.cells] == [c.cell_type for c in original.cells]
    code = [c.source for c in original.cells if c.cell_type == "code"]
    assert [c.source for c in first.cells if c.cell_type == "code"] == code
    ids = [c.id for c in first.cells]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {c.id for c in original.cells}
    assert not set(ids) & {c.id for c in second.cells}
    assert {k: v for k, v in first.metadata.runbook.items() if k not in ("title", "owner")} == {
        k: v for k, v in original.metadata.runbook.items() if k not in ("title", "owner")
    }


def test_render_strips_outputs_and_keeps_a_set_owner(repo_templates: Path) -> None:
    def owned(nb: Any) -> None:
        nb.metadata.runbook.owner = "platform-team"
        nb.metadata.runbook.title = "Failover template"  # fixed, not a placeholder
        nb.metadata.papermill = {"duration": 1}

    write_template(repo_templates, "owned", edit=owned)
    rendered = render_template(find_template("owned", repo_templates), title="X", owner="ana")
    assert rendered.metadata.runbook.owner == "platform-team"
    # A fixed template title would name every runbook made from it the same.
    assert rendered.metadata.runbook.title == "X"
    assert rendered.cells[1].outputs == []
    assert rendered.cells[1].execution_count is None
    assert tags(rendered.cells[1]) == ["confirm"]
    assert "papermill" not in rendered.metadata


def test_render_upgrades_an_old_template_without_ids(repo_templates: Path) -> None:
    repo_templates.mkdir()
    markdown = {"cell_type": "markdown", "metadata": {}, "source": ["# {{ title }}"]}
    code: dict[str, Any] = {"cell_type": "code", "metadata": {"tags": ["precheck"]}}
    code |= {"execution_count": None, "outputs": [], "source": ["x = 1"]}
    old = {"cells": [markdown, code], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (repo_templates / "old.ipynb").write_text(json.dumps(old))
    rendered = render_template(find_template("old", repo_templates), title="Old", owner="ana")
    assert rendered.nbformat_minor == 5
    assert all(cell.id for cell in rendered.cells)
    assert rendered.metadata.runbook == {"title": "Old", "owner": "ana"}
    assert tags(rendered.cells[1]) == ["precheck"]
    nbformat.validate(rendered)


@pytest.mark.parametrize(
    "text",
    [
        "{ not json",
        "[]",
        '{"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
        '{"cells": [], "nbformat": 9, "nbformat_minor": 0, "metadata": {}}',
        '{"cells": [{"cell_type": "nonsense"}], "nbformat": 4, "nbformat_minor": 5,'
        ' "metadata": {}}',
        '{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": []}',
    ],
)
def test_render_a_malformed_template_is_a_notebook_format_error(
    repo_templates: Path, text: str
) -> None:
    repo_templates.mkdir()
    path = repo_templates / "bad.ipynb"
    path.write_text(text)
    template = Template("bad", path, "repository", "")
    with pytest.raises(NotebookFormatError) as caught:
        render_template(template, title="T", owner="o")
    assert caught.value.path == str(path)


def test_render_a_template_whose_runbook_metadata_is_not_a_mapping(repo_templates: Path) -> None:
    path = write_template(repo_templates, "odd")
    data = json.loads(path.read_text())
    data["metadata"]["runbook"] = ["not", "a", "mapping"]
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataError, match=r"metadata\.runbook must be a mapping"):
        render_template(find_template("odd", repo_templates), title="T", owner="o")


def test_render_from_a_missing_file_is_a_notebook_format_error(tmp_path: Path) -> None:
    template = Template("gone", tmp_path / "gone.ipynb", "repository", "")
    with pytest.raises(NotebookFormatError, match="cannot read it"):
        render_template(template, title="T", owner="o")


# The built-in templates themselves


@pytest.mark.parametrize("name", ["default", "report"])
def test_builtin_is_a_clean_valid_notebook_in_jupyters_layout(name: str) -> None:
    path = BUILTIN_TEMPLATES_DIR / f"{name}.ipynb"
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info.name == "python"
    assert all(cell.id for cell in nb.cells)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert not any("{{" in cell.source for cell in code)
    # Written by nbformat and already what the git filter would store: no diff on `git add`.
    assert nbformat.writes(nb) + "\n" == text
    assert strip_text(text) == text


def test_default_follows_the_best_practice_order() -> None:
    nb = nbformat.read(BUILTIN_TEMPLATES_DIR / "default.ipynb", as_version=4)
    headings = [
        line[3:].strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert headings == [
        "Summary / Purpose",
        "Warning signs",
        "Pre-checks",
        "Execution steps",
        "Verification",
        "Rollback",
    ]
    tagged = [(cell.cell_type, tags(cell)) for cell in nb.cells if tags(cell)]
    assert tagged == [
        ("code", ["parameters"]),
        ("code", ["precheck"]),
        ("markdown", ["manual"]),
        ("code", ["confirm"]),
        ("code", ["verify"]),
        ("code", ["rollback"]),
    ]
    order = [tag for _, cell_tags in tagged for tag in cell_tags]
    assert order.index("precheck") < order.index("confirm")
    parameters = next(cell for cell in nb.cells if "parameters" in tags(cell))
    assert parameters.source.splitlines() == [
        'host = "localhost"  # the host to act on',
        "dry_run = False  # print mutative commands instead of running them",
    ]
    assert nb.metadata.runbook == json.loads(DEFAULT_RUNBOOK_METADATA)


def test_report_declares_its_parameters() -> None:
    nb = nbformat.read(BUILTIN_TEMPLATES_DIR / "report.ipynb", as_version=4)
    meta = nb.metadata.runbook
    assert meta.description == REPORT_DESCRIPTION
    assert meta.parameters.reference_date.type == "date"
    assert meta.parameters.reference_date.required is True
    assert meta.parameters.days == {
        "type": "int",
        "default": 7,
        "help": "how many days back to cover",
    }
    parameters = next(cell for cell in nb.cells if "parameters" in tags(cell))
    assert parameters.source.splitlines() == [
        'reference_date = "2026-01-01"  # the day the report covers (ISO date)',
        "days = 7  # how many days back to cover",
    ]
    assert [tags(c) for c in nb.cells if tags(c)] == [["parameters"], ["verify"]]


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["default", "report"])
def test_builtin_runs_cleanly_with_its_defaults(name: str, tmp_path: Path) -> None:
    nb = render_template(find_template(name, None), title="Kernel test", owner="ci")
    NotebookClient(
        nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]


@pytest.mark.kernel
def test_report_verify_cell_refuses_an_empty_report(tmp_path: Path) -> None:
    nb = render_template(find_template("report", None), title="Empty", owner="ci")
    parameters = next(cell for cell in nb.cells if "parameters" in tags(cell))
    parameters.source = parameters.source.replace("days = 7", "days = 0")
    client = NotebookClient(
        nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError, match="no data for the 0 days"):
        client.execute()
    failed = [c for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert [tags(cell) for cell in failed] == [["verify"]]
