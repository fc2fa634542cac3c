"""Binding a runbook's parameters to given values: strict where declared, papermill's elsewhere.

- Declared parameters (``metadata.runbook.parameters``) are strict: an unknown name, a value
  that is not of the declared type or a missing required value is refused.
- Inferred parameters (a Python ``parameters`` cell): an unknown name is refused, but a value
  that does not read as the type guessed from the default is passed as text, with a warning.
- No inferred parameters (no ``parameters`` cell, or a kernel whose language Runbook does not
  infer): every value is taken as papermill takes it, untyped, with one warning.

Names must be identifiers everywhere, and values are only ever injected as literals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runbook.errors import ParameterError
from runbook.model.notebook import Runbook
from runbook.model.option_values import untyped_value
from runbook.model.parameter_inference import UNTYPED
from runbook.model.parameters import (
    ParameterSpec,
    check_name,
    check_secret_reference,
    check_text,
    coerce,
    default_secret_reference,
)
from runbook.typing import JsonValue

#: Asks the operator for a missing required value; returns the raw answer.
Prompt = Callable[[ParameterSpec], object]
#: Told one line for each value taken more loosely than declared parameters would be.
Warn = Callable[[str], None]


def bind_parameters(
    runbook: Runbook,
    given: Mapping[str, object],
    *,
    prompt: Prompt | None = None,
    where: str = "",
    warn: Warn | None = None,
) -> tuple[dict[str, JsonValue], dict[str, str]]:
    """Check and coerce values for a runbook's parameters.

    Returns the plain values and, separately, the secret references. Refusals raise
    ParameterError; a missing required value is asked for through ``prompt`` when one is
    given. Optional parameters take their defaults, so the plan shows every value the run
    will use. ``warn`` hears what was taken loosely (see the module's rules).
    """
    tell = warn or (lambda _line: None)
    if runbook.meta.declared is None and not runbook.infers_parameters:
        return _bind_untyped(runbook, given, where, tell), {}
    specs = runbook.parameters
    for name in given:
        if name not in specs:
            known = ", ".join(specs) or "none"
            raise ParameterError(name, f"not a parameter of this runbook (known: {known})", where)
    if runbook.meta.declared is None:
        return _bind_inferred(specs, given, where, tell), {}
    values: dict[str, JsonValue] = {}
    secret_refs: dict[str, str] = {}
    for name, spec in specs.items():
        raw = given.get(name)
        if spec.secret:
            secret_refs[name] = (
                check_secret_reference(spec, raw, where)
                if raw is not None
                else default_secret_reference(spec)
            )
            continue
        # A required parameter must be chosen by the planner: its default is a suggestion.
        if raw is None and spec.required:
            if prompt is None:
                raise ParameterError(
                    name, f"is required but has no value; pass -p {name} VALUE", where
                )
            raw = prompt(spec)
        if raw is None:
            raw = spec.default
        if raw is not None:
            values[name] = coerce(spec, raw, where)
    return values, secret_refs


def _bind_inferred(
    specs: Mapping[str, ParameterSpec], given: Mapping[str, object], where: str, warn: Warn
) -> dict[str, JsonValue]:
    values: dict[str, JsonValue] = {}
    for name, spec in specs.items():
        if name not in given:
            # The cell's own literal, as it is: injected again, it changes nothing.
            if spec.default is not None:
                values[name] = spec.default
            continue
        raw = given[name]
        check_text(name, raw, where)
        if spec.type == UNTYPED:
            raw = untyped_value(raw)
        try:
            values[name] = coerce(spec, raw, where)
        except ParameterError:
            text = isinstance(raw, str)
            values[name] = str(raw) if text else untyped_value(raw)
            shown = repr(values[name])
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            warn(
                f"{where}: parameter {name!r}: {shown} is not a valid {spec.type} (the type "
                f"guessed from the parameters cell); passed {'as text' if text else 'as given'}"
            )
    return values


def _bind_untyped(
    runbook: Runbook, given: Mapping[str, object], where: str, warn: Warn
) -> dict[str, JsonValue]:
    values: dict[str, JsonValue] = {}
    for name, raw in given.items():
        check_name(name, where)
        check_text(name, raw, where)
        values[name] = untyped_value(raw)
    if values:
        if runbook.parameters_cell is None:
            warn(
                f"{where}: no cell is tagged parameters: the values go into a new first "
                "cell, as papermill does"
            )
        else:
            warn(
                f"{where}: parameters of {runbook.language} notebooks are not inferred: "
                "the values are injected as given, as papermill does"
            )
    return values
