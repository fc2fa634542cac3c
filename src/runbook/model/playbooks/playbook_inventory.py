"""Inventory concept of a playbook: checking targets and the inventory sources they come from.

Holds :class:`InventoryBuilder`, the part of the playbook builder that checks ``inventory:``
(static targets, a file, a command or an http source) and each target, with the plain value
checks (slugs, JSON values) the rest of the builder shares. :func:`parse_targets` applies the
same target rules to inventories read at run time.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import PurePosixPath
from typing import Any, Final

from runbook.errors import SpecError
from runbook.model.playbooks.playbook import (
    CommandInventory,
    FileInventory,
    HttpInventory,
    InventorySpec,
    StaticInventory,
    Target,
)
from runbook.model.spec_builder import SpecBuilder, describe
from runbook.model.spec_builder import path_problem as _path_problem

_INVENTORY_KEYS: Final = ("targets", "file", "command", "http")
_TARGET_KEYS: Final = ("name", "address", "vars")
_HTTP_KEYS: Final = ("url", "field", "headers")
_INVENTORY_SUFFIXES: Final = (".yml", ".yaml", ".json")
SLUG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VAR: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANK_OR_CONTROL: Final = re.compile(r"[\s\x00-\x1f\x7f]")


class InventoryBuilder(SpecBuilder):
    def slug(self, raw: object, where: str, what: str) -> str | None:
        if isinstance(raw, str) and SLUG.fullmatch(raw):
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


def path_problem(value: object) -> str | None:
    """Why ``value`` is not a relative path that stays inside the repository, else None."""
    return _path_problem(value, inside="the repository")


def has_var(variables: dict[str, Any], path: tuple[str, ...]) -> bool:
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
    builder = InventoryBuilder(errors)
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
        item = InventoryBuilder(errors).mapping(document, "", ("targets",))
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
