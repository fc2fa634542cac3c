"""Steps concept of a playbook: checking each runbook or shell step and the templates it uses.

Holds :class:`StepBuilder`, the part of the playbook builder that checks ``steps:`` (names,
notebooks, commands, timeouts) and that every ``{{ params.* }}`` or ``{{ vars.* }}`` template
names a declared parameter or, for a static inventory, a variable every target has.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any, Final

from runbook.errors import ParameterError
from runbook.model.parameters import check_name
from runbook.model.playbooks.playbook import (
    DEFAULT_TIMEOUT,
    InventorySpec,
    RunbookStep,
    ShellStep,
    StaticInventory,
    Step,
)
from runbook.model.playbooks.playbook_inventory import SLUG, InventoryBuilder, has_var, path_problem
from runbook.model.playbooks.playbook_templates import Reference, scan_template
from runbook.model.spec_builder import describe

_RUNBOOK_STEP_KEYS: Final = ("name", "runbook", "parameters", "timeout")
_SHELL_STEP_KEYS: Final = ("name", "shell", "timeout", "rollback")

# Each template found in a step, with the path of the value that holds it.
_Found = list[tuple[Reference, str]]


class StepBuilder(InventoryBuilder):
    def steps(
        self,
        raw: object,
        where: str,
        parameters: dict[str, Any],
        inventory: InventorySpec | None,
    ) -> list[Step]:
        if not isinstance(raw, list) or not raw:
            self.fail(where, f"expected a non-empty list of steps, not {describe(raw)}")
            return []
        steps: list[Step] = []
        first_seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            path = f"{where}[{index}]"
            found: _Found = []
            step = self.step(item, path, index, found)
            self.references(found, parameters, inventory)
            if step is None:
                continue
            if step.name in first_seen:
                self.fail(
                    f"{path}.name",
                    f"duplicate step name {step.name!r} (also {where}[{first_seen[step.name]}]);"
                    " give each step its own name",
                )
                continue
            first_seen[step.name] = index
            steps.append(step)
        return steps

    def step(self, raw: object, path: str, index: int, found: _Found) -> Step | None:
        if not isinstance(raw, dict):
            self.fail(path, f"expected a mapping with 'runbook' or 'shell', not {describe(raw)}")
            return None
        if ("runbook" in raw) == ("shell" in raw):
            both = "runbook" in raw
            self.fail(
                path,
                "a step is a runbook step or a shell step, not both"
                if both
                else "expected a 'runbook' or a 'shell' key",
            )
            return None
        if "runbook" in raw:
            return self.runbook_step(raw, path, found)
        return self.shell_step(raw, path, index, found)

    def step_name(self, item: dict[Any, Any], path: str, default: str) -> str | None:
        if "name" in item:
            return self.slug(item["name"], f"{path}.name", "step name")
        if SLUG.fullmatch(default):
            return default
        self.fail(f"{path}.name", f"missing, and {default!r} cannot be a step name: add a name")
        return None

    def runbook_step(self, raw: dict[Any, Any], path: str, found: _Found) -> RunbookStep | None:
        item = self.mapping(raw, path, _RUNBOOK_STEP_KEYS)
        assert item is not None  # noqa: S101 - the caller checked it is a mapping
        runbook = item["runbook"]
        ok = True
        if problem := path_problem(runbook):
            self.fail(f"{path}.runbook", problem)
            ok = False
        elif not runbook.endswith(".ipynb"):
            self.fail(f"{path}.runbook", f"expected a notebook path ending in .ipynb: {runbook!r}")
            ok = False
        stem = PurePosixPath(runbook).stem if ok else "runbook"
        name = self.step_name(item, f"{path}", stem)
        where = f"{path}.parameters"
        values = item.get("parameters")
        parameters: dict[str, Any] = {}
        if values is not None and not isinstance(values, dict):
            self.fail(
                where, f"expected a mapping of runbook parameter → value, not {describe(values)}"
            )
            ok = False
            values = None
        for key, value in (values or {}).items():
            try:
                check_name(key)
            except ParameterError as error:
                self.fail(f"{where}.{key}", f"{key!r} is {error.reason}")
                ok = False
                continue
            valid = self.json_value(value, f"{where}.{key}")
            templated = valid and self.templates(value, f"{where}.{key}", found)
            ok = ok and templated
            parameters[key] = value
        timeout = item.get("timeout")
        if timeout is not None and not self.seconds(timeout, f"{path}.timeout"):
            return None
        if not ok or name is None:
            return None
        return RunbookStep(name, runbook, parameters, float(timeout) if timeout else None)

    def shell_step(
        self, raw: dict[Any, Any], path: str, index: int, found: _Found
    ) -> ShellStep | None:
        item = self.mapping(raw, path, _SHELL_STEP_KEYS)
        assert item is not None  # noqa: S101 - the caller checked it is a mapping
        name = self.step_name(item, path, f"step-{index + 1}")
        command = self.command(item["shell"], f"{path}.shell", found)
        rollback = None
        ok = True
        if item.get("rollback") is not None:
            rollback = self.command(item["rollback"], f"{path}.rollback", found)
            ok = rollback is not None
        timeout = item.get("timeout", DEFAULT_TIMEOUT)
        if not self.seconds(timeout, f"{path}.timeout"):
            return None
        if not ok or name is None or command is None:
            return None
        return ShellStep(name, command, float(timeout), rollback)

    def seconds(self, value: object, where: str) -> bool:
        """Whether ``value`` is a number of seconds > 0; fails at ``where`` when it is not."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            self.fail(where, f"expected seconds > 0, not {describe(value)}")
            return False
        return True

    def command(self, raw: object, where: str, found: _Found) -> str | tuple[str, ...] | None:
        if isinstance(raw, str) and raw.strip():
            return raw if self.templates(raw, where, found) else None
        if isinstance(raw, list) and raw and all(isinstance(arg, str) for arg in raw) and raw[0]:
            results = [self.templates(arg, f"{where}[{i}]", found) for i, arg in enumerate(raw)]
            return tuple(raw) if all(results) else None
        self.fail(
            where,
            f"expected a command string (run by /bin/sh) or a non-empty argv list of text, "
            f"not {describe(raw)}",
        )
        return None

    def templates(self, value: object, where: str, found: _Found) -> bool:
        """Collects the references in every string of ``value``; False on a bad template."""
        if isinstance(value, str):
            references, problems = scan_template(value)
            for problem in problems:
                self.fail(where, problem)
            found.extend((reference, where) for reference in references)
            return not problems
        if isinstance(value, list):
            results = [self.templates(v, f"{where}[{i}]", found) for i, v in enumerate(value)]
            return all(results)
        if isinstance(value, dict):
            results = [self.templates(v, f"{where}.{k}", found) for k, v in value.items()]
            return all(results)
        return True

    def references(
        self, found: _Found, parameters: dict[str, Any], inventory: InventorySpec | None
    ) -> None:
        declared = ", ".join(parameters) or "none"
        for reference, where in found:
            if reference.root == "params":
                if reference.path[0] not in parameters:
                    self.fail(
                        where,
                        f"unknown parameter {reference.path[0]!r} in {reference.text} "
                        f"(declared: {declared})",
                    )
            elif isinstance(inventory, StaticInventory) and reference.path[0] == "vars":
                # A static inventory is known now: say so at import, not mid-run.
                lacking = [
                    t.name for t in inventory.targets if not has_var(t.vars, reference.path[1:])
                ]
                if lacking:
                    shown = ", ".join(lacking[:3]) + (" …" if len(lacking) > 3 else "")
                    self.fail(
                        where,
                        f"{reference.text}: no variable {'.'.join(reference.path[1:])!r} on "
                        f"target(s) {shown}",
                    )
