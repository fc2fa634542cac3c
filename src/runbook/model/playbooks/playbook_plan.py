"""A playbook plan: an imported playbook revision frozen with its parameters, to be reviewed.

A playbook plan is a plan notebook like a runbook's (so it is kept, hashed, reviewed, signed,
verified and spent as theirs are), whose cells are markdown telling the reviewer what will run
(the parameters, the inventory source, the strategy, every step), and whose
``metadata.runbook.plan.playbook`` holds what the run uses: the revision's frozen definition
and, for every runbook step, the runbook's content hash as planned. The hash of the plan
covers all of it; a runbook step whose runbook changed since planning voids the approval, as
changed repository code does for a runbook plan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nbformat
import yaml

from runbook.errors import RunbookError
from runbook.model.modules import manifest_changes
from runbook.model.notebook import load_runbook
from runbook.model.plan import Plan, canonical_json, content_sha256
from runbook.model.playbooks.playbook import PlaybookSpec, RunbookStep, playbook_from_json
from runbook.model.repository import Repository
from runbook.typing import Notebook

#: The key of ``metadata.runbook.plan`` that makes a plan a playbook plan.
PLAYBOOK_KEY: Final = "playbook"


@dataclass(frozen=True)
class PlaybookPlan:
    """What a playbook plan froze: the revision, its definition, its runbooks' hashes."""

    name: str
    revision: int
    version: str
    definition: dict[str, Any]
    #: Each runbook step's runbook (repository-relative) → its content sha256 when planned.
    runbooks: dict[str, str]

    @property
    def spec(self) -> PlaybookSpec:
        """The frozen definition as a checked spec."""
        return playbook_from_json(self.definition, f"playbook {self.name} revision {self.revision}")

    def to_json(self) -> dict[str, Any]:
        """The form kept in the plan notebook's metadata."""
        return {
            "name": self.name,
            "revision": self.revision,
            "version": self.version,
            "definition": self.definition,
            "runbooks": dict(self.runbooks),
        }


def playbook_plan_of(plan: Plan) -> PlaybookPlan | None:
    """The playbook a plan froze, from its recorded content; None for a runbook plan."""
    metadata = json.loads(plan.content).get("metadata", {})
    frozen = metadata.get("runbook", {}).get("plan", {}).get(PLAYBOOK_KEY)
    if not isinstance(frozen, dict):
        return None
    return PlaybookPlan(
        name=str(frozen["name"]),
        revision=int(frozen["revision"]),
        version=str(frozen["version"]),
        definition=dict(frozen["definition"]),
        runbooks={str(k): str(v) for k, v in dict(frozen["runbooks"]).items()},
    )


def runbook_content_sha256(repository: Repository, relative: str) -> str:
    """The content hash of the runbook at ``relative`` as it is now (``missing`` or
    ``unreadable`` when it cannot be loaded), as standing approvals and playbook plans bind it."""
    try:
        path = repository.resolve(relative)
        if not path.is_file():
            return "missing"
        runbook = load_runbook(path, relative)
    except (RunbookError, OSError):
        return "unreadable"
    return content_sha256(canonical_json(runbook.notebook))


def step_runbooks(spec: PlaybookSpec) -> list[str]:
    """The runbooks the playbook's steps run, each once, in step order."""
    return list(dict.fromkeys(s.runbook for s in spec.steps if isinstance(s, RunbookStep)))


def step_changes(repository: Repository, frozen: PlaybookPlan) -> list[str]:
    """Which of the plan's step runbooks changed since planning (``x.ipynb changed``)."""
    current = {path: runbook_content_sha256(repository, path) for path in frozen.runbooks}
    return manifest_changes(frozen.runbooks, current)


def playbook_plan_notebook(
    frozen: PlaybookPlan, parameters: Mapping[str, Any], source: str
) -> Notebook:
    """The plan notebook's cells: what a reviewer reads to judge the playbook run."""
    spec = frozen.spec
    cells = [
        f"# Playbook {spec.name} (revision {frozen.revision}, version {spec.version})\n\n"
        f"{spec.description}".rstrip(),
        "## Parameters\n\n" + _listing(parameters),
        "## Inventory (read when the run starts)\n\n" + _yaml(frozen.definition["inventory"]),
        "## Strategy\n\n" + _yaml(frozen.definition["strategy"]),
        "## Steps, for every target\n\n" + _yaml(frozen.definition["steps"]),
        "## Runbooks of the steps, bound by sha256\n\n" + _listing(frozen.runbooks),
        f"Imported from `{source}`; tags: {', '.join(spec.tags) or 'none'}.",
    ]
    notebook: Notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(text) for text in cells]
    )
    return notebook


def _listing(values: Mapping[str, Any]) -> str:
    if not values:
        return "none"
    return "\n".join(
        f"- `{name}` = `{json.dumps(value, ensure_ascii=False)}`" for name, value in values.items()
    )


def _yaml(value: object) -> str:
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)
    return f"```yaml\n{text}```"


def playbook_plan_path(name: str) -> str:
    """What a playbook plan names as its source in listings: ``playbook:NAME``."""
    return f"{PLAYBOOK_KEY}:{Path(name).name}"
