"""Playbook templates: ``{{ target.… }}`` and ``{{ params.… }}`` in step values, and rendering a
step for one target.

Dotted names only, never expressions: a template is scanned into :class:`Reference` values
(checked when the playbook is loaded) and rendered from a target and the run's parameters.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from runbook.errors import SpecError
from runbook.model.playbooks.playbook import SHELL, RunbookStep, Step, Target
from runbook.typing import JsonValue

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


def _lookup(reference: Reference, target: Target, params: Mapping[str, JsonValue]) -> JsonValue:
    if reference.root == "params":
        name = reference.path[0]
        if name not in params:
            raise _Missing(f"no value for parameter {name!r}")
        return params[name]
    if reference.path[0] == "name":
        return target.name
    if reference.path[0] == "address":
        return target.address
    value: JsonValue = target.vars
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
    params: Mapping[str, JsonValue],
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


def render_value(value: JsonValue, target: Target, params: Mapping[str, JsonValue]) -> JsonValue:
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
    command: str | tuple[str, ...], target: Target, params: Mapping[str, JsonValue]
) -> list[str]:
    """The argv of a shell command for ``target``.

    A string becomes ``["/bin/sh", "-c", text]`` where every substituted value is
    ``shlex.quote``'d (so write ``{{ target.address }}``, never ``'{{ target.address }}'``);
    each element of an argv list is templated verbatim, with no shell involved.
    """
    if isinstance(command, str):
        return [*SHELL, render_text(command, target, params, quote=True)]
    return [render_text(item, target, params) for item in command]


def render_step(step: Step, target: Target, params: Mapping[str, JsonValue]) -> RenderedStep:
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
