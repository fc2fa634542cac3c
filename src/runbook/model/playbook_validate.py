"""Checking a parsed playbook document and building its dataclasses, collecting every error.

Used by :mod:`runbook.model.playbook`: every problem becomes a SpecError at its path in the
document (``steps[1].parameters.host``), and building goes on so that one pass reports them
all. :func:`parse_targets` applies the same target rules to inventories read at run time.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import PurePosixPath
from typing import Any, Final

from runbook.errors import ParameterError, SpecError
from runbook.model.parameters import check_name
from runbook.model.playbook import (
    DEFAULT_TIMEOUT,
    CommandInventory,
    FileInventory,
    HttpInventory,
    InventorySpec,
    PlaybookSpec,
    RunbookStep,
    ShellStep,
    StaticInventory,
    Step,
    Target,
)
from runbook.model.playbook_templates import Reference, scan_template
from runbook.model.spec_builder import SpecBuilder
from runbook.model.strategy import build_strategy
from runbook.model.workflow import describe
from runbook.model.workflow import path_problem as _inputs_path_problem

_TOP_KEYS: Final = (
    *("name", "version", "description", "parameters"),
    *("inventory", "steps", "strategy", "lock"),
)
_INVENTORY_KEYS: Final = ("targets", "file", "command", "http")
_TARGET_KEYS: Final = ("name", "address", "vars")
_HTTP_KEYS: Final = ("url", "field", "headers")
_RUNBOOK_STEP_KEYS: Final = ("name", "runbook", "parameters", "timeout")
_SHELL_STEP_KEYS: Final = ("name", "shell", "timeout", "rollback")
_INVENTORY_SUFFIXES: Final = (".yml", ".yaml", ".json")
_SLUG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VAR: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANK_OR_CONTROL: Final = re.compile(r"[\s\x00-\x1f\x7f]")

# Each template found in a step, with the path of the value that holds it.
_Found = list[tuple[Reference, str]]


class _Builder(SpecBuilder):
    def slug(self, raw: object, where: str, what: str) -> str | None:
        if isinstance(raw, str) and _SLUG.fullmatch(raw):
            return raw
        self.fail(
            where,
            f"expected a {what} of letters, digits, _ . - (not starting with . or -), "
            f"not {describe(raw)}",
        )
        return None

    def json_value(self, raw: object, where: str) -> bool:
        """Whether ``raw`` is plain JSON; reports the first offending place when it is not."""
        if raw is None or isinstance(raw, str | bool | int):
            return True
        if isinstance(raw, float):
            if math.isfinite(raw):
                return True
            self.fail(where, f"expected a finite number, not {raw!r}")
            return False
        if isinstance(raw, list):
            return all(self.json_value(item, f"{where}[{i}]") for i, item in enumerate(raw))
        if isinstance(raw, dict):
            for key, value in raw.items():
                if not isinstance(key, str):
                    self.fail(f"{where}.{key}", f"keys must be text, not {describe(key)}")
                    return False
                if not self.json_value(value, f"{where}.{key}"):
                    return False
            return True
        self.fail(
            where,
            f"expected text, a number, a boolean, null, a list or a mapping, not "
            f"{describe(raw)} (quote dates and times)",
        )
        return False

    def document(self, raw: object, where: str) -> PlaybookSpec | None:
        before = len(self.errors)
        if raw is None:
            self.fail(where, "empty document: expected a mapping with name, version, steps…")
            return None
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping at the top level, not {describe(raw)}")
            return None
        item = self.mapping(raw, "", _TOP_KEYS)
        assert item is not None  # noqa: S101 - checked just above
        name = self.required(item, "name", "the playbook's name")
        if name is not None:
            name = self.slug(name, "name", "name")
        version = self.version(item)
        description = item.get("description", "")
        if description is None:
            description = ""
        if not isinstance(description, str):
            self.fail("description", f"expected text, not {describe(description)}")
        parameters = self.parameters(item.get("parameters"), "parameters")
        inventory = None
        if self.required(item, "inventory", "targets, file, command or http") is not None:
            inventory = self.inventory(item["inventory"], "inventory")
        steps: list[Step] = []
        if self.required(item, "steps", "a list of runbook or shell steps") is not None:
            steps = self.steps(item["steps"], "steps", parameters, inventory)
        strategy = build_strategy(item.get("strategy"), "strategy", self.errors)
        lock = item.get("lock", True)
        if not isinstance(lock, bool):
            self.fail("lock", f"expected true or false, not {describe(lock)}")
        if len(self.errors) > before or name is None or version is None or inventory is None:
            return None
        return PlaybookSpec(
            name, version, inventory, tuple(steps), description, parameters, strategy, lock
        )

    def required(self, item: dict[Any, Any], key: str, expected: str) -> object:
        if key not in item or item[key] is None:
            self.fail(key, f"missing: expected {expected}")
            return None
        return item[key]

    def version(self, item: dict[Any, Any]) -> str | None:
        raw = self.required(item, "version", 'a version such as "1.4"')
        if raw is None:
            return None
        if isinstance(raw, str) and raw.strip():
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            return str(raw)
        self.fail("version", f'expected a version such as "1.4", not {describe(raw)}')
        return None

    def parameters(self, raw: object, where: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(
                where, f"expected a mapping of name → default (null: required), not {describe(raw)}"
            )
            return {}
        declared: dict[str, Any] = {}
        for key, default in raw.items():
            try:
                check_name(key)
            except ParameterError as error:
                self.fail(f"{where}.{key}", f"{key!r} is {error.reason}")
                continue
            if self.json_value(default, f"{where}.{key}"):
                declared[key] = default
        return declared

    def inventory(self, raw: object, where: str) -> InventorySpec | None:
        item = self.mapping(raw, where, _INVENTORY_KEYS)
        if item is None:
            return None
        given = [key for key in _INVENTORY_KEYS if key in item]
        if len(given) != 1:
            found = f" (found: {', '.join(given)})" if given else ""
            self.fail(where, f"expected exactly one of: {', '.join(_INVENTORY_KEYS)}{found}")
            return None
        kind = given[0]
        value = item[kind]
        place = f"{where}.{kind}"
        if kind == "targets":
            if not isinstance(value, list) or not value:
                self.fail(place, f"expected a non-empty list of targets, not {describe(value)}")
                return None
            targets = build_targets(value, place, self.errors)
            return StaticInventory(tuple(targets)) if targets is not None else None
        if kind == "file":
            if problem := path_problem(value):
                self.fail(place, problem)
                return None
            if PurePosixPath(value).suffix.lower() not in _INVENTORY_SUFFIXES:
                self.fail(place, f"expected a .yml, .yaml or .json file, not {value!r}")
                return None
            return FileInventory(value)
        if kind == "command":
            argv = self.argv(value, place)
            return CommandInventory(tuple(argv)) if argv is not None else None
        return self.http(value, place)

    def argv(self, raw: object, where: str) -> list[str] | None:
        if isinstance(raw, str):
            try:
                raw = shlex.split(raw)
            except ValueError as error:
                self.fail(where, f"cannot split the command: {error}")
                return None
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(arg, str) and "\x00" not in arg for arg in raw)
        ):
            self.fail(where, f"expected a command: an argv list or a string, not {describe(raw)}")
            return None
        if not raw[0]:
            self.fail(f"{where}[0]", "the program name is empty")
            return None
        return raw

    def http(self, raw: object, where: str) -> HttpInventory | None:
        item = self.mapping(raw, where, _HTTP_KEYS)
        if item is None:
            return None
        url, field, headers = item.get("url"), item.get("field"), item.get("headers") or {}
        ok = True
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            self.fail(f"{where}.url", f"expected an http(s) URL, not {describe(url)}")
            ok = False
        if field is not None and (not isinstance(field, str) or not field):
            self.fail(f"{where}.field", f"expected a key of the JSON answer, not {describe(field)}")
            ok = False
        if not isinstance(headers, dict):
            self.fail(f"{where}.headers", f"expected a mapping, not {describe(headers)}")
            return None
        for key, value in headers.items():
            if not isinstance(key, str) or not isinstance(value, str):
                self.fail(f"{where}.headers.{key}", "header names and values must be text")
                ok = False
        if not ok:
            return None
        return HttpInventory(str(url), field, dict(headers))

    def target(self, raw: object, where: str) -> Target | None:
        item = self.mapping(raw, where, _TARGET_KEYS)
        if item is None:
            return None
        name = item.get("name")
        if name is None:
            self.fail(f"{where}.name", "missing: every target needs a unique name")
            return None
        if self.slug(name, f"{where}.name", "target name") is None:
            return None
        address = item.get("address", name)
        if not isinstance(address, str) or not address or _BLANK_OR_CONTROL.search(address):
            self.fail(
                f"{where}.address",
                f"expected a host name or address without spaces, not {describe(address)}",
            )
            return None
        variables = item.get("vars") or {}
        if not isinstance(variables, dict):
            self.fail(f"{where}.vars", f"expected a mapping, not {describe(variables)}")
            return None
        ok = True
        for key, value in variables.items():
            if not isinstance(key, str) or not _VAR.fullmatch(key):
                self.fail(
                    f"{where}.vars.{key}",
                    "variable names are letters, digits and _ (not starting with a digit), "
                    "so templates can name them",
                )
                ok = False
            elif not self.json_value(value, f"{where}.vars.{key}"):
                ok = False
        return Target(name, address, dict(variables)) if ok else None

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
        if _SLUG.fullmatch(default):
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
                    t.name for t in inventory.targets if not _has_var(t.vars, reference.path[1:])
                ]
                if lacking:
                    shown = ", ".join(lacking[:3]) + (" …" if len(lacking) > 3 else "")
                    self.fail(
                        where,
                        f"{reference.text}: no variable {'.'.join(reference.path[1:])!r} on "
                        f"target(s) {shown}",
                    )


def path_problem(value: object) -> str | None:
    """Why ``value`` is not a relative path that stays inside the repository, else None."""
    problem = _inputs_path_problem(value)
    return problem.replace("the inputs folder", "the repository") if problem else None


def _has_var(variables: dict[str, Any], path: tuple[str, ...]) -> bool:
    value: Any = variables
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def build_targets(raw: list[Any], where: str, errors: list[SpecError]) -> list[Target] | None:
    """Targets from a list, checked (a name each, unique); None when any is invalid.

    Problems are appended to ``errors`` at ``where[i].key``.
    """
    builder = _Builder(errors)
    before = len(errors)
    targets: list[Target] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        target = builder.target(item, f"{where}[{index}]")
        if target is None:
            continue
        if target.name in first_seen:
            builder.fail(
                f"{where}[{index}].name",
                f"duplicate target name {target.name!r} (also {where}[{first_seen[target.name]}])",
            )
            continue
        first_seen[target.name] = index
        targets.append(target)
    return targets if len(errors) == before else None


def parse_targets(document: object) -> tuple[list[Target], list[SpecError]]:
    """The targets of an inventory document: a list of targets, or ``{targets: [...]}``.

    Targets follow the playbook's own rules (a slug ``name``, unique; an optional ``address``
    without spaces, defaulting to the name; optional ``vars``). Errors are placed at
    ``targets[i].key`` whichever the shape; the list may be empty.
    """
    errors: list[SpecError] = []
    if isinstance(document, dict):
        item = _Builder(errors).mapping(document, "", ("targets",))
        if item is None or errors:
            return [], errors
        document = item.get("targets")
        if not isinstance(document, list):
            return [], [
                SpecError("targets", f"expected a list of targets, not {describe(document)}")
            ]
    if not isinstance(document, list):
        reason = f"expected a list of targets or {{targets: [...]}}, not {describe(document)}"
        return [], [SpecError("inventory", reason)]
    targets = build_targets(document, "targets", errors)
    return (targets or [], errors)


def build_playbook(raw: object, where: str, errors: list[SpecError]) -> PlaybookSpec | None:
    """The PlaybookSpec of a parsed document; every problem is appended to ``errors``."""
    return _Builder(errors).document(raw, where)
