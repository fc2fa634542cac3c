"""Parameter mappings of catalog procedures: ``{{ labels.NAME }}`` and friends.

Dotted names only, never expressions or filters (as playbook templates,
:mod:`runbook.model.playbooks.playbook_templates`): ``labels.NAME``, ``annotations.NAME``,
``service.FIELD`` (name, owner, team, tier) and ``code``. A value that is exactly one
template becomes that text; templates inside text are substituted. The result is text: the
runbook's declared parameters type and check it when the plan is made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_TEMPLATE: Final = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
_DOTTED: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*")
SERVICE_FIELDS: Final = ("name", "owner", "team", "tier")


def _problem(inner: str, written: str) -> str | None:
    if not _DOTTED.fullmatch(inner):
        return (
            f"{written!r} is not a dotted name: only {{{{ labels.NAME }}}}, "
            "{{ annotations.NAME }}, {{ service.FIELD }} and {{ code }}, no expressions"
        )
    root, _, rest = inner.partition(".")
    if root == "code":
        return None if not rest else f"{written!r}: code has no fields"
    if root in ("labels", "annotations"):
        return None if rest and "." not in rest else f"{written!r}: expected {root}.NAME"
    if root == "service":
        if rest in SERVICE_FIELDS:
            return None
        return f"{written!r}: expected service.{'|'.join(SERVICE_FIELDS)}"
    return f"{written!r}: unknown name {root!r} (labels., annotations., service., code)"


def scan_mapping(text: str) -> list[str]:
    """The problems of the templates in ``text`` (one line each; empty when it is fine)."""
    problems = [
        p
        for match in _TEMPLATE.finditer(text)
        if (p := _problem(match.group(1).strip(), match.group(0))) is not None
    ]
    if "{{" in _TEMPLATE.sub("", text) or "}}" in _TEMPLATE.sub("", text):
        problems.append("'{{' without a closing '}}'")
    return problems


class MappingError(ValueError):
    """A mapped value names a label or annotation the alert does not carry."""


def render_mapping(
    text: str,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    service: Mapping[str, str],
    code: str,
) -> str:
    """``text`` with every template replaced; MappingError names a missing label."""
    if scan_mapping(text):
        raise MappingError(scan_mapping(text)[0])

    def value(match: re.Match[str]) -> str:
        root, _, rest = match.group(1).strip().partition(".")
        if root == "code":
            return code
        source = {"labels": labels, "annotations": annotations, "service": service}[root]
        if rest not in source:
            raise MappingError(
                f"the alert has no {root[:-1] if root != 'service' else root} "
                f"{rest!r} (needed by {match.group(0)})"
            )
        return source[rest]

    return _TEMPLATE.sub(value, text)
