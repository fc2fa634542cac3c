"""Playbooks: steps (runbooks or shell commands) run across an inventory of targets, in batches.

A playbook is one YAML file under ``playbooks/``::

    name: restart-web
    version: "1.4"
    parameters: {reason: null, drain_seconds: 30}     # null default = required
    inventory: {targets: [{name: web1, address: 10.0.0.1, vars: {role: web}}]}
    steps:
      - {runbook: runbooks/drain.ipynb, parameters: {host: "{{ target.address }}"}}
      - {name: health, shell: "curl -fsS http://{{ target.address }}/health", timeout: 30}
    strategy: {batch_size: [1, "10%", "100%"], max_failures: 0, on_failure: stop}
    lock: true
    tags: [critical]                                   # matched by the review rules

The inventory is exactly one of ``targets`` (static), ``file``, ``command`` or ``http``; the
last three are read when a run starts (:mod:`runbook.orchestrate.playbooks.inventory`).
Step values are templated with ``{{ target.name }}``, ``{{ target.address }}``,
``{{ target.vars.KEY }}`` (or
``{{ target.KEY }}``) and ``{{ params.NAME }}``: dotted names only, never expressions
(:mod:`runbook.model.playbooks.playbook_templates`). The
batch and failure arithmetic lives in :mod:`runbook.model.playbooks.strategy`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from runbook.errors import SpecError
from runbook.typing import JsonValue

DEFAULT_TIMEOUT: Final = 300.0
DEFAULT_CONCURRENCY: Final = 20
SHELL: Final = ("/bin/sh", "-c")


class TargetState(StrEnum):
    """Where one target of a playbook run is (the seed's per-node states).

    ``PENDING`` targets wait for their batch; ``ADDED`` ones appeared in the inventory during
    the run and ``REMOVED`` ones disappeared from it: both need the runner's consideration
    (see :class:`AddedTargets`). ``SKIPPED`` targets never started because the run stopped
    (too many failures); ``CANCELLED`` ones were stopped by an operator. ``INTERRUPTED``
    ones were RUNNING when their run's process died: their outcome is unknown, and no retry
    takes them again by itself.
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    ADDED = "ADDED"
    REMOVED = "REMOVED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def finished(self) -> bool:
        """True when nothing more will happen to the target in this run."""
        return self in _FINISHED


_FINISHED: Final = frozenset(
    {
        TargetState.SUCCEEDED,
        TargetState.FAILED,
        TargetState.SKIPPED,
        TargetState.CANCELLED,
        TargetState.REMOVED,
        TargetState.INTERRUPTED,
    }
)


class OnFailure(StrEnum):
    """What happens to a *target* when one of its steps fails (it ends FAILED in every case).

    - ``stop``: the target's later steps are not run;
    - ``continue``: its later steps still run;
    - ``rollback``: its later steps are not run; the failed step and the steps it completed
      before are rolled back, newest first (see ``strategy.rollback_plan``).
    """

    STOP = "stop"
    CONTINUE = "continue"
    ROLLBACK = "rollback"


class AddedTargets(StrEnum):
    """What happens to targets that appear in the inventory while a run is going on.

    Either way they are recorded ``ADDED``. ``later``: they are run after the batches planned
    at start; ``ignore``: they are not run by this run.
    """

    LATER = "later"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Target:
    """One machine (or service) a playbook acts on; ``address`` defaults to the name."""

    name: str
    address: str
    vars: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StaticInventory:
    """Targets listed in the playbook itself."""

    targets: tuple[Target, ...]


@dataclass(frozen=True)
class FileInventory:
    """A YAML or JSON file in the repository: a list of targets or ``{targets: [...]}``."""

    path: str


@dataclass(frozen=True)
class CommandInventory:
    """A command (run without a shell, from the repository root) printing targets as JSON."""

    argv: tuple[str, ...]


@dataclass(frozen=True)
class HttpInventory:
    """Targets as JSON over HTTP, through the egress policy; ``field`` selects a key first."""

    url: str
    field: str | None = None
    # ``field`` above shadows dataclasses.field inside this class body.
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


InventorySpec = StaticInventory | FileInventory | CommandInventory | HttpInventory


@dataclass(frozen=True)
class RunbookStep:
    """Run a runbook on the target, its ``parameters`` templated for each target.

    ``timeout``: seconds each cell may run (as ``runbook run --timeout``); None: no limit.
    """

    name: str
    runbook: str
    parameters: dict[str, JsonValue] = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class ShellStep:
    """Run a command for the target: a string (``/bin/sh -c``) or an argv list (no shell).

    ``rollback`` has the same forms and is run only when the target is rolled back.
    """

    name: str
    command: str | tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT
    rollback: str | tuple[str, ...] | None = None


Step = RunbookStep | ShellStep


@dataclass(frozen=True)
class StrategySpec:
    """How targets are batched and when a run stops.

    The semantics are in ``runbook.model.playbooks.strategy``.

    ``batch_size`` entries are counts (int ≥ 1) or percentages (``"10%"``); the default
    ``("100%",)`` puts every target in one batch. ``max_failures`` is a count or a percentage.
    """

    batch_size: tuple[int | str, ...] = ("100%",)
    max_failures: int | str = 0
    concurrency: int = DEFAULT_CONCURRENCY
    pause_between_batches: float = 0.0
    on_failure: OnFailure = OnFailure.STOP
    added_targets: AddedTargets = AddedTargets.LATER


@dataclass(frozen=True)
class PlaybookSpec:
    """A validated playbook. ``parameters`` maps each run parameter to its default.

    A default of None means the parameter is required (see :attr:`required`).
    """

    name: str
    version: str
    inventory: InventorySpec
    steps: tuple[Step, ...]
    description: str = ""
    parameters: dict[str, JsonValue] = field(default_factory=dict)
    strategy: StrategySpec = field(default_factory=StrategySpec)
    lock: bool = True
    #: Words the review rules match, as a runbook's ``metadata.runbook.tags``.
    tags: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        """The parameters a run must be given a value for."""
        return tuple(name for name, default in self.parameters.items() if default is None)


# ---------------------------------------------------------------------------------------------
# Loading and the frozen JSON copy


def _build(raw: object, where: str) -> tuple[PlaybookSpec | None, list[SpecError]]:
    from runbook.model.playbooks.playbook_validate import build_playbook

    errors: list[SpecError] = []
    return build_playbook(raw, where, errors), errors


def _parse(text: str, where: str) -> tuple[PlaybookSpec | None, list[SpecError]]:
    from runbook.model.yaml_files import parse_yaml

    document, error = parse_yaml(text, where)
    if error is not None:
        return None, [error]
    return _build(document, where)


def _first(errors: list[SpecError], where: str) -> SpecError:
    first = errors[0]
    if first.where == where or first.where.startswith(f"{where}:"):
        return first
    return SpecError(f"{where}: {first.where}", first.reason)


def validate_playbook(text: str, where: str = "playbook.yml") -> list[SpecError]:
    """Every error of a playbook file, in document order (empty when it is valid).

    Each error's ``where`` is its path inside the document (``steps[1].parameters.host``,
    ``inventory.targets[0].name``); errors about the whole document (invalid YAML, not a
    mapping) are at ``where`` itself, with ``:line:column`` for syntax errors. Never raises.
    """
    return _parse(text, where)[1]


def load_playbook(text: str, where: str = "playbook.yml") -> PlaybookSpec:
    """The playbook defined by ``text``; raises the first SpecError (prefixed by ``where``)."""
    spec, errors = _parse(text, where)
    if errors:
        raise _first(errors, where)
    assert spec is not None  # noqa: S101 - no errors means the document was built
    return spec


def playbook_from_json(data: Mapping[str, Any], where: str = "playbook") -> PlaybookSpec:
    """The playbook in ``data`` (as made by :func:`playbook_to_json`), checked again.

    Raises the first SpecError, like :func:`load_playbook`.
    """
    spec, errors = _build(dict(data), where)
    if errors:
        raise _first(errors, where)
    assert spec is not None  # noqa: S101 - no errors means the document was built
    return spec


def playbook_to_json(spec: PlaybookSpec) -> dict[str, Any]:
    """``spec`` as a JSON-ready mapping in the YAML file's own shape, every default explicit.

    This is the frozen copy a run record keeps: ``playbook_from_json`` gives back an equal
    spec, and ``json.dumps`` of it is stable for a given spec.
    """
    strategy = spec.strategy
    return {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "parameters": dict(spec.parameters),
        "inventory": _inventory_json(spec.inventory),
        "steps": [_step_json(step) for step in spec.steps],
        "strategy": {
            "batch_size": list(strategy.batch_size),
            "max_failures": strategy.max_failures,
            "concurrency": strategy.concurrency,
            "pause_between_batches": strategy.pause_between_batches,
            "on_failure": strategy.on_failure.value,
            "added_targets": strategy.added_targets.value,
        },
        "lock": spec.lock,
        # Only when set: the frozen copy of a playbook without tags stays as it was.
        **({"tags": list(spec.tags)} if spec.tags else {}),
    }


def target_to_json(target: Target) -> dict[str, Any]:
    """A target in the inventory's own shape."""
    return {"name": target.name, "address": target.address, "vars": dict(target.vars)}


def _inventory_json(inventory: InventorySpec) -> dict[str, Any]:
    if isinstance(inventory, StaticInventory):
        return {"targets": [target_to_json(target) for target in inventory.targets]}
    if isinstance(inventory, FileInventory):
        return {"file": inventory.path}
    if isinstance(inventory, CommandInventory):
        return {"command": list(inventory.argv)}
    http: dict[str, Any] = {"url": inventory.url, "headers": dict(inventory.headers)}
    if inventory.field is not None:
        http["field"] = inventory.field
    return {"http": http}


def _command_json(command: str | tuple[str, ...]) -> str | list[str]:
    return command if isinstance(command, str) else list(command)


def _step_json(step: Step) -> dict[str, Any]:
    if isinstance(step, RunbookStep):
        frozen = {"name": step.name, "runbook": step.runbook, "parameters": dict(step.parameters)}
        # Only when set: the frozen copy of a playbook without one stays as it was.
        return frozen if step.timeout is None else {**frozen, "timeout": step.timeout}
    shell: dict[str, Any] = {
        "name": step.name,
        "shell": _command_json(step.command),
        "timeout": step.timeout,
    }
    if step.rollback is not None:
        shell["rollback"] = _command_json(step.rollback)
    return shell
