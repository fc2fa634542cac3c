"""The checks every form of workflows file shares: names, tasks, outputs, stencils, cycles and
the parameters a sensor passes, as AutoFlow's own parser checks them.

AutoFlow (``autoflow/parser`` in Flowminder's FlowKit) refuses a task whose ``filename`` is
not a ``.ipynb`` file or does not exist in the inputs folder, an output ``template`` that does
not exist there, a task label that is one of the parameters it passes itself
(``reference_date``, ``date_ranges``, ``flowapi_url``), and sensor parameters that leave out
one the workflow needs or hold one it does not take. The same here, every problem at its path.
Whether a file exists is asked of ``files`` (the caller knows where the inputs folder is);
without it only the names are checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final, cast

from runbook.errors import ParameterError, SpecError
from runbook.model.parameters import check_name
from runbook.model.spec_builder import SpecBuilder, describe, find_cycles, path_problem
from runbook.model.stencil import parse_stencil
from runbook.model.workflows.workflow import (
    AUTOMATIC_PARAMETERS,
    OUTPUT_FORMATS,
    SETTING_NAMES,
    FileCheck,
    OutputFormat,
    OutputSpec,
    TaskSpec,
)

#: Task labels AutoFlow refuses: it passes parameters of these names itself.
RESERVED_LABELS: Final = (*AUTOMATIC_PARAMETERS, *SETTING_NAMES)
NOTEBOOK_SUFFIX: Final = ".ipynb"


@dataclass(frozen=True)
class Accepts:
    """The parameters a workflow takes from a sensor: every one it accepts, and those it needs."""

    accepted: frozenset[str]
    required: frozenset[str]


def quoted(names: Iterable[str]) -> str:
    """``'a', 'b'``: names for a message, sorted."""
    return ", ".join(repr(name) for name in sorted(names))


class WorkflowChecks(SpecBuilder):
    """The shared checks; ``files`` answers whether a named file can be used."""

    def __init__(self, errors: list[SpecError], files: FileCheck | None = None) -> None:
        super().__init__(errors)
        self.files = files

    def name(self, raw: object, where: str) -> bool:
        """Whether ``raw`` is a valid parameter or task name (recorded when it is not)."""
        try:
            check_name(raw)
        except ParameterError as error:
            self.fail(where, f"{raw!r} is {error.reason}")
            return False
        return True

    def names_mapping(self, raw: object, where: str) -> dict[str, Any]:
        """A mapping of valid names to values (``null`` is an empty mapping)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping, not {describe(raw)}")
            return {}
        return {key: value for key, value in raw.items() if self.name(key, f"{where}.{key}")}

    def label(self, key: object, where: str) -> bool:
        """Whether ``key`` may name a task: a valid name that AutoFlow does not reserve."""
        if not self.name(key, where):
            return False
        if key in RESERVED_LABELS:
            self.fail(
                where,
                f"{key!r} cannot label a task: it is a parameter passed to every task "
                f"({', '.join(RESERVED_LABELS)}); rename the task",
            )
            return False
        return True

    def notebook_file(self, filename: object, where: str) -> None:
        """Check a task's ``filename``: a relative ``.ipynb`` path to a file that exists."""
        if problem := path_problem(filename):
            self.fail(where, problem)
            return
        name = cast(str, filename)
        if PurePosixPath(name.replace("\\", "/")).suffix != NOTEBOOK_SUFFIX:
            self.fail(where, f"{name!r} is not a Jupyter notebook: expected a .ipynb file")
        elif self.files is not None and (problem := self.files(name)):
            self.fail(where, f"notebook {name!r} {problem}")

    def task(self, key: str, raw: object, where: str, allowed: Iterable[str]) -> TaskSpec | None:
        """One task's ``filename``, ``parameters``, ``output``, ``retries``, ``retry_delay``,
        ``timeout`` (those of them ``allowed``)."""
        item = self.mapping(raw, where, allowed)
        if item is None:
            return None
        filename = item.get("filename")
        if "filename" not in item:
            self.fail(f"{where}.filename", "missing: the notebook to execute")
        else:
            self.notebook_file(filename, f"{where}.filename")
        parameters: dict[str, str] = {}
        for parameter, reference in self.names_mapping(
            item.get("parameters"), f"{where}.parameters"
        ).items():
            if isinstance(reference, str):
                parameters[parameter] = reference
            else:
                self.fail(
                    f"{where}.parameters.{parameter}",
                    f"expected a reference (a workflow parameter, task key, automatic "
                    f"parameter or setting name), not {describe(reference)}",
                )
        output = self.output(item.get("output"), f"{where}.output")
        retries = item.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            self.fail(f"{where}.retries", f"expected an integer ≥ 0, not {describe(retries)}")
            retries = 0
        delay = item.get("retry_delay", 0.0)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            self.fail(f"{where}.retry_delay", f"expected seconds ≥ 0, not {describe(delay)}")
            delay = 0.0
        timeout = item.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            self.fail(f"{where}.timeout", f"expected seconds > 0, not {describe(timeout)}")
            timeout = None
        # Built even when invalid (only a file without errors loads) so cycles still show.
        name = filename if isinstance(filename, str) else ""
        seconds = float(timeout) if timeout is not None else None
        return TaskSpec(key, name, parameters, output, retries, float(delay), seconds)

    def output(
        self, raw: object, where: str, formats: tuple[str, ...] = OUTPUT_FORMATS
    ) -> OutputSpec | None:
        """A task's ``output``: its format and an optional template that must exist."""
        if raw is None:
            return None
        item = self.mapping(raw, where, ("format", "template"))
        if item is None:
            return None
        fmt = item.get("format")
        if fmt not in formats:
            self.fail(f"{where}.format", f"expected {' or '.join(formats)}, not {describe(fmt)}")
            return None
        return self.template(cast(OutputFormat, fmt), item.get("template"), f"{where}.template")

    def template(self, fmt: OutputFormat, template: object, where: str) -> OutputSpec | None:
        """The output with its ``template`` checked: relative, inside, and existing."""
        if template is not None:
            if problem := path_problem(template):
                self.fail(where, problem)
                return None
            if self.files is not None and (problem := self.files(cast(str, template))):
                self.fail(where, f"template {template!r} {problem}")
                return None
        return OutputSpec(fmt, cast("str | None", template))

    def cycles(self, tasks: dict[str, TaskSpec], where: str) -> None:
        """Name every dependency cycle among ``tasks``."""
        graph = {
            key: [ref for ref in task.parameters.values() if ref in tasks and ref != key]
            for key, task in tasks.items()
        }
        for cycle in find_cycles(graph):
            self.fail(where, f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}")

    def stencil(self, raw: object, where: str) -> Any:
        """A parsed ``date_stencil`` at ``where.date_stencil``, or None."""
        if raw is None:
            return None
        try:
            return parse_stencil(raw, "date_stencil")
        except SpecError as error:
            self.fail(f"{where}.{error.where}", error.reason)
        except (ValueError, TypeError) as error:
            self.fail(f"{where}.date_stencil", f"invalid date stencil: {error}")
        return None

    def sensor_parameters(
        self, given: dict[str, Any], accepts: Accepts, workflow: str, where: str
    ) -> None:
        """The parameters a sensor passes to ``workflow``: none missing, none unexpected.

        ``reference_date`` and ``date_ranges`` are the sensor's own, never given by hand.
        """
        for key in given:
            if key in AUTOMATIC_PARAMETERS:
                self.fail(
                    f"{where}.{key}",
                    "is passed by the sensor itself (for the date it runs): remove it",
                )
        names = set(given) - set(AUTOMATIC_PARAMETERS)
        if missing := accepts.required - names:
            self.fail(where, f"missing {quoted(missing)}, needed by workflow {workflow!r}")
        if unexpected := names - accepts.accepted:
            takes = quoted(accepts.accepted) if accepts.accepted else "none"
            self.fail(
                where,
                f"unexpected {quoted(unexpected)}: workflow {workflow!r} takes {takes} "
                "(besides reference_date and date_ranges, which the sensor passes)",
            )


def accepts(
    tasks: dict[str, TaskSpec], declared: dict[str, Any], required: Iterable[str], known: set[str]
) -> Accepts:
    """What a workflow takes: its declared parameters and the plain references of its tasks.

    A plain reference names no task, automatic parameter or setting: in AutoFlow each is a
    parameter of the workflow. Only ``known`` ones count (the others are reported as unknown
    references). One referenced but not declared with a default, or declared ``required``,
    must be given.
    """
    plain = {
        reference
        for task in tasks.values()
        for reference in task.parameters.values()
        if reference not in tasks and reference not in RESERVED_LABELS and reference in known
    }
    needed = {name for name in plain if name not in declared or name in set(required)}
    return Accepts(frozenset(plain | set(declared)), frozenset(needed))
