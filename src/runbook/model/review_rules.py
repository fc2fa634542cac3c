"""Review rules a team states in ``[review]``: how many approvals, from whom, by tag.

A plan must meet every :class:`Requirement` that applies to it: the repository's own
(``review.approvals`` from ``review.reviewers``) and one per tag of the runbook that
``[review.tag.<tag>]`` names. Reviewers are identities or ``@group`` names expanded from
``[review.groups]``; an empty list means anyone but the planner. Approvals are counted once
per person (identities compared as :func:`runbook.model.identity.identity_key` does).

The requirements are recorded on the plan when it is made and computed again, from
``runbook.toml`` as it is then, when it runs: both must be met, so the stricter wins and
relaxing the file after planning frees nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook.errors import ConfigError
from runbook.model.identity import identity_key

GROUP_PREFIX = "@"


@dataclass(frozen=True)
class Requirement:
    """``approvals`` distinct approvers among ``reviewers`` (empty: anyone); ``source``
    names the rule (``review`` or ``review.tag.critical``) in messages."""

    approvals: int
    reviewers: tuple[str, ...] = ()
    source: str = "review"

    def admits(self, reviewer: str) -> bool:
        """Whether ``reviewer``'s approval counts towards this requirement."""
        if not self.reviewers:
            return True
        return identity_key(reviewer) in {identity_key(r) for r in self.reviewers}

    def describe(self) -> str:
        """``2 approvals from carol, dave (review.tag.critical)``."""
        who = f" from {', '.join(self.reviewers)}" if self.reviewers else ""
        plural = "s" if self.approvals != 1 else ""
        return f"{self.approvals} approval{plural}{who} ({self.source})"

    def to_json(self) -> dict[str, Any]:
        """The form recorded on a plan."""
        return {
            "approvals": self.approvals,
            "reviewers": list(self.reviewers),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Requirement:
        """The requirement recorded by :meth:`to_json`."""
        return cls(
            approvals=int(data.get("approvals", 1)),
            reviewers=tuple(str(r) for r in data.get("reviewers", ())),
            source=str(data.get("source", "review")),
        )


@dataclass(frozen=True)
class TagRule:
    """What ``[review.tag.<tag>]`` asks of a runbook with that tag."""

    approvals: int = 1
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewRules:
    """The approvals ``[review]`` asks for (see the module docstring)."""

    approvals: int = 1
    reviewers: tuple[str, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: Mapping[str, TagRule] = field(default_factory=dict)

    def requirements(self, runbook_tags: Iterable[str]) -> tuple[Requirement, ...]:
        """Every requirement a runbook with these tags must meet."""
        found = [Requirement(self.approvals, self.expand(self.reviewers), "review")]
        for tag in sorted(set(runbook_tags) & set(self.tags)):
            rule = self.tags[tag]
            found.append(
                Requirement(rule.approvals, self.expand(rule.reviewers), f"review.tag.{tag}")
            )
        return tuple(found)

    def expand(self, names: Sequence[str]) -> tuple[str, ...]:
        """``names`` with each ``@group`` replaced by its members, each person once."""
        expanded: list[str] = []
        for name in names:
            members = self.groups.get(name[1:], ()) if name.startswith(GROUP_PREFIX) else (name,)
            expanded.extend(members)
        return tuple(dict.fromkeys(expanded))


def unmet(
    requirements: Sequence[Requirement], approvers: Sequence[str]
) -> list[tuple[Requirement, int]]:
    """Each requirement ``approvers`` (distinct people, in order) fall short of, with how
    many of them it counted."""
    people = list(dict.fromkeys(identity_key(a) for a in approvers))
    named = {identity_key(a): a for a in approvers}
    short = []
    for requirement in requirements:
        counted = sum(1 for p in people if requirement.admits(named[p]))
        if counted < requirement.approvals:
            short.append((requirement, counted))
    return short


def parse_review_rules(table: Mapping[str, Any], where: str) -> ReviewRules:
    """The rules of a ``[review]`` table (``where`` names the file in errors): its
    ``approvals``, ``reviewers``, ``groups`` and ``tag.<tag>`` tables; ConfigError naming
    the key when one is malformed or names a group that does not exist."""
    groups_table = table.get("groups", {})
    if not isinstance(groups_table, dict):
        raise ConfigError(f"{where}: review.groups", "must be a table of lists of names")
    groups = {
        str(name): _names(members, f"{where}: review.groups.{name}", {})
        for name, members in groups_table.items()
    }
    approvals = _count(table.get("approvals", 1), f"{where}: review.approvals")
    reviewers = _names(table.get("reviewers", []), f"{where}: review.reviewers", groups)
    tags_table = table.get("tag", {})
    if not isinstance(tags_table, dict):
        raise ConfigError(f"{where}: review.tag", "must be a table of tables, one per tag")
    tags = {}
    for tag, rule in tags_table.items():
        key = f"{where}: review.tag.{tag}"
        if not isinstance(rule, dict):
            raise ConfigError(key, "must be a table with approvals and reviewers")
        unknown = sorted(set(rule) - {"approvals", "reviewers"})
        if unknown:
            raise ConfigError(key, f"unknown key {unknown[0]!r} (approvals, reviewers)")
        tags[str(tag)] = TagRule(
            _count(rule.get("approvals", 1), f"{key}.approvals"),
            _names(rule.get("reviewers", []), f"{key}.reviewers", groups),
        )
    return ReviewRules(approvals, reviewers, groups, tags)


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ConfigError(where, f"must be a whole number from 1 to 100, not {value!r}")
    return value


def _names(value: object, where: str, groups: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(where, "must be a list of names (or @group)")
    for name in value:
        if name.startswith(GROUP_PREFIX) and name[1:] not in groups:
            raise ConfigError(where, f"{name} is not a group of review.groups")
    return tuple(v.strip() for v in value)


@dataclass(frozen=True)
class RecordedRules:
    """What a plan records of the rules it was made under: its runbook's tags (so it can be
    judged again by the rules of the day) and the requirements that applied then."""

    tags: tuple[str, ...]
    requirements: tuple[Requirement, ...]

    def to_json(self) -> dict[str, Any]:
        """The form kept in the store and in the ``plan.created`` event."""
        return {"tags": list(self.tags), "requirements": [r.to_json() for r in self.requirements]}

    @classmethod
    def from_json(cls, data: object) -> RecordedRules | None:
        """The rules :meth:`to_json` recorded; None for a plan made before rules were kept."""
        if not isinstance(data, dict):
            return None
        return cls(
            tags=tuple(str(t) for t in data.get("tags", ())),
            requirements=tuple(Requirement.from_json(r) for r in data.get("requirements", ())),
        )
