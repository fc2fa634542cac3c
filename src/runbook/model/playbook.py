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

The inventory is exactly one of ``targets`` (static), ``file``, ``command`` or ``http``; the
last three are read when a run starts (:mod:`runbook.orchestrate.inventory`). Step values are
templated with ``{{ target.name }}``, ``{{ target.address }}``, ``{{ target.vars.KEY }}`` (or
``{{ target.KEY }}``) and ``{{ params.NAME }}``: dotted names only, never expressions. The
batch and failure arithmetic lives in :mod:`runbook.model.strategy`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

from runbook.errors import SpecError

DEFAULT_TIMEOUT: Final = 300.0
DEFAULT_CONCURRENCY: Final = 20
SHELL: Final = ("/bin/sh", "-c")

#: A value as JSON knows it: str, int, float, bool, None, lists and str-keyed mappings.
JsonValue = Any


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
    """How targets are batched and when a run stops (semantics in ``runbook.model.strategy``).

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

    @property
    def required(self) -> tuple[str, ...]:
        """The parameters a run must be given a value for."""
        return tuple(name for name, default in self.parameters.items() if default is None)


# ---------------------------------------------------------------------------------------------
# Templates

# The inner part may not contain "{{" or "}}", so one match never spans two templates.
_TEMPLATE: Final = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
_DOTTED: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Reference:
    """One ``{{ ... }}`` of a template, normalised.

    ``path`` is ``("name",)``, ``("address",)`` or ``("vars", KEY, ...)`` for a target (so
    ``target.role`` becomes ``("vars", "role")``), and ``(NAME,)`` for a parameter.
    """

    root: Literal["target", "params"]
    path: tuple[str, ...]
    text: str


def scan_template(text: str) -> tuple[list[Reference], list[str]]:
    """The references in ``text`` and the problems of its templates (one line each)."""
    references: list[Reference] = []
    problems: list[str] = []
    for match in _TEMPLATE.finditer(text):
        reference = _reference(match.group(1).strip(), match.group(0))
        if isinstance(reference, str):
            problems.append(reference)
        else:
            references.append(reference)
    if "{{" in _TEMPLATE.sub("", text):
        problems.append("'{{' without a closing '}}'")
    return references, problems


def _reference(inner: str, written: str) -> Reference | str:
    if not inner:
        return f"empty template {written!r}"
    if not _DOTTED.fullmatch(inner):
        return (
            f"{written!r} is not a dotted name: only {{{{ target.FIELD }}}} and "
            "{{ params.NAME }} are allowed, no expressions or filters"
        )
    root, *path = inner.split(".")
    if root == "params":
        if len(path) != 1:
            return f"{written!r}: expected params.NAME"
        return Reference("params", tuple(path), written)
    if root != "target":
        return f"{written!r}: unknown name {root!r} (templates start with target. or params.)"
    if not path:
        return f"{written!r}: name a field: target.name, target.address or target.vars.KEY"
    if path[0] in ("name", "address"):
        if len(path) > 1:
            return f"{written!r}: target.{path[0]} is text and has no fields"
        return Reference("target", tuple(path), written)
    if path[0] == "vars":
        if len(path) == 1:
            return f"{written!r}: name a variable: target.vars.KEY"
        return Reference("target", tuple(path), written)
    return Reference("target", ("vars", *path), written)


class _Missing(Exception):
    """A reference has no value for this target or run; carries the message."""


def _lookup(reference: Reference, target: Target, params: Mapping[str, Any]) -> Any:
    if reference.root == "params":
        name = reference.path[0]
        if name not in params:
            raise _Missing(f"no value for parameter {name!r}")
        return params[name]
    if reference.path[0] == "name":
        return target.name
    if reference.path[0] == "address":
        return target.address
    value: Any = target.vars
    for depth, key in enumerate(reference.path[1:], start=1):
        if not isinstance(value, dict) or key not in value:
            dotted = ".".join(reference.path[1 : depth + 1])
            known = ", ".join(sorted(target.vars)) or "none"
            raise _Missing(
                f"target {target.name!r} has no variable {dotted!r} "
                f"(needed by {reference.text}; its variables: {known})"
            )
        value = value[key]
    return value


def as_text(value: JsonValue) -> str:
    """How a value reads inside a string: text as is, numbers as Python writes them.

    Booleans, null, lists and mappings are written as JSON (``true``, ``null``, ``[1, 2]``)
    so a command line never sees Python's ``True`` or ``None``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, sort_keys=True)


def render_text(
    text: str,
    target: Target,
    params: Mapping[str, Any],
    *,
    quote: bool = False,
) -> str:
    """``text`` with every template replaced by :func:`as_text` of its value.

    With ``quote`` each substituted value is ``shlex.quote``'d, for a ``/bin/sh -c`` string.
    Raises ValueError (with a one-line message) for a bad template or a missing value.
    """
    _, problems = scan_template(text)
    if problems:
        raise ValueError(problems[0])

    def substitute(match: re.Match[str]) -> str:
        reference = _reference(match.group(1).strip(), match.group(0))
        assert isinstance(reference, Reference)  # noqa: S101 - scanned above
        shown = as_text(_lookup(reference, target, params))
        return shlex.quote(shown) if quote else shown

    return _TEMPLATE.sub(substitute, text)


def render_value(value: JsonValue, target: Target, params: Mapping[str, Any]) -> JsonValue:
    """A runbook parameter value rendered: strings templated, lists and mappings walked.

    A string that is exactly one template (``"{{ params.port }}"``) becomes the referenced
    value itself, keeping its type; templates embedded in text render as text.
    """
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value)
        if whole is not None:
            reference = _reference(whole.group(1).strip(), whole.group(0))
            if isinstance(reference, str):
                raise ValueError(reference)
            return _lookup(reference, target, params)
        return render_text(value, target, params)
    if isinstance(value, list):
        return [render_value(item, target, params) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, target, params) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class RenderedStep:
    """A step made concrete for one target.

    A runbook step has ``runbook``, ``parameters`` and ``timeout`` (per cell); a shell step
    has ``argv`` (ready for ``subprocess`` without a shell: a string command is
    ``["/bin/sh", "-c", text]``), ``timeout`` and, when it declares one, ``rollback_argv``.
    """

    name: str
    kind: Literal["runbook", "shell"]
    runbook: str | None = None
    parameters: dict[str, JsonValue] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    timeout: float | None = None
    rollback_argv: list[str] | None = None


def render_command(
    command: str | tuple[str, ...], target: Target, params: Mapping[str, Any]
) -> list[str]:
    """The argv of a shell command for ``target``.

    A string becomes ``["/bin/sh", "-c", text]`` where every substituted value is
    ``shlex.quote``'d (so write ``{{ target.address }}``, never ``'{{ target.address }}'``);
    each element of an argv list is templated verbatim, with no shell involved.
    """
    if isinstance(command, str):
        return [*SHELL, render_text(command, target, params, quote=True)]
    return [render_text(item, target, params) for item in command]


def render_step(step: Step, target: Target, params: Mapping[str, Any]) -> RenderedStep:
    """``step`` rendered for ``target`` with the run's parameter values ``params``.

    Raises SpecError at ``step <name>`` when the target lacks a variable a template names
    (the message names the target and the variable) or ``params`` lacks a parameter.
    """
    try:
        if isinstance(step, RunbookStep):
            parameters = {
                name: render_value(value, target, params) for name, value in step.parameters.items()
            }
            return RenderedStep(
                step.name,
                "runbook",
                runbook=step.runbook,
                parameters=parameters,
                timeout=step.timeout,
            )
        rollback = (
            render_command(step.rollback, target, params) if step.rollback is not None else None
        )
        argv = render_command(step.command, target, params)
        return RenderedStep(
            step.name, "shell", argv=argv, timeout=step.timeout, rollback_argv=rollback
        )
    except (_Missing, ValueError) as error:
        raise SpecError(f"step {step.name!r}", str(error)) from None


# ---------------------------------------------------------------------------------------------
# Loading and the frozen JSON copy


def _build(raw: object, where: str) -> tuple[PlaybookSpec | None, list[SpecError]]:
    from runbook.model.playbook_validate import build_playbook

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
