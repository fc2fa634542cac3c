"""Templates: the notebooks ``runbook create`` starts a new runbook from.

Built-in templates ship in the package's ``templates/`` folder; a repository adds its own in
its ``templates/`` folder, and one with a built-in's name replaces it. Rendering fills in the
title in prose only: a title is user text and never becomes code.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat
import nbformat.reader
from nbformat.corpus.words import generate_corpus_id

from runbook.errors import MetadataError, NotebookFormatError, UnknownTemplateError
from runbook.model.strip import strip_notebook
from runbook.typing import Notebook

BUILTIN_TEMPLATES_DIR: Path = Path(__file__).parent.parent / "templates"

TITLE_PLACEHOLDER = "{{ title }}"
SLUG_MAX_LENGTH = 80

TemplateSource = Literal["builtin", "repository"]

# nbformat's functions carry no annotations; these typed names keep mypy --strict meaningful.
# random_cell_id in nbformat.v4 is generate_corpus_id under another name.
_random_cell_id: Callable[[], str] = generate_corpus_id
_from_dict: Callable[[Any], Notebook] = nbformat.from_dict
_convert: Callable[[Any, int], Notebook] = nbformat.convert
_reads_any_version: Callable[[str], Any] = nbformat.reader.reads


@dataclass(frozen=True)
class Template:
    """A notebook a runbook can be created from."""

    name: str
    path: Path
    source: TemplateSource
    description: str


def list_templates(repository_templates: Path | None) -> list[Template]:
    """List the built-in templates and the repository's, sorted by name.

    ``repository_templates`` is the repository's ``templates/`` folder (or None outside a
    repository); every ``*.ipynb`` directly inside it is a template named after its file
    stem, and replaces a built-in of the same name. A template that cannot be read is still
    listed, with the reason as its description, so one broken file does not hide the others.
    """
    templates = {template.name: template for template in _scan(BUILTIN_TEMPLATES_DIR, "builtin")}
    if repository_templates is not None:
        templates.update(
            (template.name, template) for template in _scan(repository_templates, "repository")
        )
    return sorted(templates.values(), key=lambda template: template.name)


def find_template(name: str, repository_templates: Path | None) -> Template:
    """Return the template called ``name``; raise :class:`UnknownTemplateError` if none is.

    The name is only ever matched against the listing, never joined to a path, so a name
    like ``../x`` cannot reach outside the template folders.
    """
    templates = list_templates(repository_templates)
    for template in templates:
        if template.name == name:
            return template
    raise UnknownTemplateError(name, [template.name for template in templates])


def _scan(folder: Path, source: TemplateSource) -> list[Template]:
    if not folder.is_dir():
        return []
    return [
        Template(name=path.stem, path=path, source=source, description=_describe(path))
        for path in sorted(folder.glob("*.ipynb"))
        # Hidden files are editor and tool leftovers, not templates anyone chose to share.
        if path.is_file() and not path.name.startswith(".")
    ]


def _describe(path: Path) -> str:
    # Plain json rather than nbformat: listing must stay quick and never start a kernel.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return f"(unreadable: {exc})"
    if not isinstance(data, dict):
        return "(unreadable: not a JSON object)"
    metadata = data.get("metadata")
    runbook = metadata.get("runbook") if isinstance(metadata, dict) else None
    description = runbook.get("description") if isinstance(runbook, dict) else None
    return description if isinstance(description, str) else ""


def slugify(title: str) -> str:
    """Turn a title into a lowercase ASCII file name stem: "Restart database" → "restart-database".

    Accents are folded (NFKD, then anything non-ASCII dropped), every run of other characters
    becomes one "-", and the result is at most 80 characters, cut at a "-" when there is one.
    Raises ValueError when nothing usable is left.
    """
    folded = unicodedata.normalize("NFKD", title.casefold())
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if len(slug) > SLUG_MAX_LENGTH:
        cut = slug[: SLUG_MAX_LENGTH + 1]
        boundary = cut.rfind("-")
        # Cutting at a word boundary keeps the name readable; one giant word is cut hard.
        slug = cut[:boundary] if boundary > 0 else slug[:SLUG_MAX_LENGTH]
        slug = slug.strip("-")
    if not slug:
        raise ValueError(f"title {title!r} has no letters or digits to make a file name from")
    return slug


def render_template(template: Template, *, title: str, owner: str) -> Notebook:
    """Make a new runbook notebook (an ``nbformat.NotebookNode``) from ``template``.

    ``{{ title }}`` is replaced in markdown cells and in ``metadata.runbook.title`` only,
    never in code or raw cells; ``metadata.runbook.owner`` is set to ``owner`` when the
    template leaves it empty. Every cell gets a fresh id, outputs are stripped, and all else,
    tags included, is kept. Raises :class:`NotebookFormatError` when the template is not a
    valid notebook and :class:`MetadataError` when its ``metadata.runbook`` is not a mapping.
    """
    where = str(template.path)
    nb = _read_notebook(template.path)
    for cell in nb.cells:
        # Fresh ids: two runbooks created from one template must not share cell identities.
        cell["id"] = _random_cell_id()
        if cell.get("cell_type") == "markdown" and isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].replace(TITLE_PLACEHOLDER, title)
    # Ids are part of the 4.5 schema; an older 4.x template becomes 4.5 now that it has them.
    minor = nb.get("nbformat_minor")
    nb["nbformat_minor"] = max(minor, 5) if isinstance(minor, int) else 5

    metadata = nb.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise NotebookFormatError(where, "the notebook's metadata is not an object")
    runbook = metadata.setdefault("runbook", {})
    if not isinstance(runbook, dict):
        raise MetadataError(where, "metadata.runbook must be a mapping")
    template_title = runbook.get("title")
    if isinstance(template_title, str) and TITLE_PLACEHOLDER in template_title:
        runbook["title"] = template_title.replace(TITLE_PLACEHOLDER, title)
    else:
        # A fixed title in a template would name every runbook made from it the same.
        runbook["title"] = title
    if not runbook.get("owner"):
        runbook["owner"] = owner

    rendered = _from_dict(strip_notebook(nb))
    try:
        nbformat.validate(rendered)
    except nbformat.ValidationError as exc:
        raise NotebookFormatError(where, _first_line(str(exc))) from exc
    return rendered


def _read_notebook(path: Path) -> Notebook:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookFormatError(where, f"cannot read it: {exc}") from exc
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotebookFormatError(where, f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise NotebookFormatError(where, "not a notebook object with a list of cells")
    try:
        # nbformat.reader, not nbformat.read: the latter only logs validation errors, and
        # validation happens after rendering, once every cell has its id.
        nb = _convert(_reads_any_version(text), 4)
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as exc:
        raise NotebookFormatError(where, _first_line(str(exc))) from exc
    if "cells" not in nb:
        raise NotebookFormatError(where, "no 'cells' list")
    return nb


def _first_line(message: str) -> str:
    # jsonschema messages run to dozens of lines of schema dump; the first says what is wrong.
    return message.strip().splitlines()[0] if message.strip() else "invalid notebook"
