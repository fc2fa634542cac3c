"""Checking a parsed playbook document and building its dataclasses, collecting every error.

Used by :mod:`runbook.model.playbooks.playbook`: every problem becomes a SpecError at its path
in the document (``steps[1].parameters.host``), and building goes on so that one pass reports them
all. This module checks the top level (name, version, parameters, strategy, lock); the
inventory lives in :mod:`runbook.model.playbooks.playbook_inventory` and the steps in
:mod:`runbook.model.playbooks.playbook_steps`.
"""

from __future__ import annotations

import math
from typing import Any, Final

from runbook.errors import ParameterError, SpecError
from runbook.model.parameters import check_name
from runbook.model.playbooks.playbook import PlaybookSpec, Step
from runbook.model.playbooks.playbook_steps import StepBuilder
from runbook.model.playbooks.strategy import build_strategy
from runbook.model.spec_builder import describe

_TOP_KEYS: Final = (
    *("name", "version", "description", "parameters"),
    *("inventory", "steps", "strategy", "lock", "tags"),
)


class _Builder(StepBuilder):
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
        tags = self.tags(item.get("tags"), "tags")
        if len(self.errors) > before or name is None or version is None or inventory is None:
            return None
        return PlaybookSpec(
            name, version, inventory, tuple(steps), description, parameters, strategy, lock, tags
        )

    def tags(self, raw: object, where: str) -> tuple[str, ...]:
        """``tags``: a list of words, as a runbook's ``metadata.runbook.tags`` (review rules
        match them)."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail(where, f"expected a list of tags, not {describe(raw)}")
            return ()
        tags = []
        for index, tag in enumerate(raw):
            if not isinstance(tag, str) or not tag.strip():
                self.fail(f"{where}[{index}]", f"expected a tag (text), not {describe(tag)}")
            else:
                tags.append(tag.strip())
        return tuple(dict.fromkeys(tags))

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


def build_playbook(raw: object, where: str, errors: list[SpecError]) -> PlaybookSpec | None:
    """The PlaybookSpec of a parsed document; every problem is appended to ``errors``."""
    return _Builder(errors).document(raw, where)
