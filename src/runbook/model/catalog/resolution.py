"""Which procedure answers an error code for a service: the one resolution order.

The candidates are every procedure whose code matches (``code`` exactly, or
``code_pattern`` as a full regex match) and whose scope applies to the service: the
platform (``for: "*"``), a tag the service carries (``for: tag:NAME``) or the service
itself (``for: service:NAME``). A candidate whose label matchers do not all hold for the
alert's labels is out (with no labels given, as in ``catalog lookup`` without ``--label``,
matchers are not checked). The rest are ranked, first wins:

1. scope: the service's own rule, then a tag's, then the platform's;
2. an exact ``code`` before a ``code_pattern``;
3. more label matchers before fewer (the more specific rule);
4. the order of the catalog (file name, then position in the file).

Walking down that ranking, the first rule decides by its ``mode``:

- ``override`` (the default): it is the answer; every rule below is outranked.
- ``suppress``: there is no procedure for this code here (on purpose: not a gap); every
  rule below is suppressed.
- ``extend``: it is added to the answer, and the walk goes on to the next rule: the answer
  is the first ``override`` below (the procedure being extended), with every ``extend``
  above it listed as ``also``, in rank order. When nothing below is left to extend (or
  the next deciding rule suppresses), the highest ``extend`` is the answer itself.

The answer's policy is the answer's own; ``also`` procedures are shown with it and never
run automatically. ``runbook catalog why SERVICE CODE`` prints every candidate and its
verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from runbook.model.catalog.catalog import Catalog, Procedure, Service

_SCOPE_RANK = {"service": 3, "tag": 2, "platform": 1}


@dataclass(frozen=True)
class Candidate:
    """One rule considered for (service, code), with its verdict in words."""

    procedure: Procedure
    verdict: str
    rank: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass(frozen=True)
class Resolution:
    """The answer for (service, code): a procedure, or none (suppressed or a gap)."""

    service: str
    code: str
    winner: Procedure | None
    also: tuple[Procedure, ...] = ()
    suppressed_by: Procedure | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    @property
    def is_gap(self) -> bool:
        """No procedure and nobody suppressed one: the catalog does not answer this."""
        return self.winner is None and self.suppressed_by is None


def _applies(rule: Procedure, service: Service) -> bool:
    if rule.scope_kind == "platform":
        return True
    if rule.scope_kind == "service":
        return rule.scope_name == service.name
    return rule.scope_name in service.tags


def resolve(
    catalog: Catalog,
    service: Service,
    code: str,
    labels: Mapping[str, str] | None = None,
) -> Resolution:
    """The procedure answering ``code`` for ``service`` (see the module docstring)."""
    considered: list[Candidate] = []
    ranked: list[Candidate] = []
    for position, rule in enumerate(catalog.procedures):
        if not rule.matches_code(code) or not _applies(rule, service):
            continue
        failed = [m for m in rule.matchers if labels is not None and not m.matches(labels)]
        if failed:
            shown = ", ".join(m.describe() for m in failed)
            considered.append(Candidate(rule, f"out: the alert's labels do not match {shown}"))
            continue
        rank = (
            _SCOPE_RANK[rule.scope_kind],
            1 if rule.code is not None else 0,
            len(rule.matchers),
            -position,
        )
        ranked.append(Candidate(rule, "", rank))
    ranked.sort(key=lambda c: c.rank, reverse=True)
    winner: Procedure | None = None
    suppressor: Procedure | None = None
    extenders: list[Procedure] = []
    verdicts: list[Candidate] = []
    for candidate in ranked:
        rule = candidate.procedure
        decided = winner or suppressor
        if decided is not None:
            how = "suppressed by" if suppressor is not None else "outranked by"
            verdict = f"{how} {decided.name} ({_why(rule, decided)})"
        elif rule.mode == "extend":
            extenders.append(rule)
            verdict = "extends the procedure below it"
        elif rule.mode == "suppress":
            suppressor = rule
            verdict = "suppresses this code here: no procedure (not a gap)"
        else:
            winner = rule
            verdict = "the answer" + (
                f", extended by {', '.join(e.name for e in extenders)}"
                if extenders
                else f" ({_scope_words(rule)})"
            )
        verdicts.append(Candidate(rule, verdict, candidate.rank))
    if winner is None and extenders:  # nothing left to extend: the highest extend answers
        winner, extenders = extenders[0], extenders[1:]
        verdicts = [
            Candidate(c.procedure, "the answer (it extends nothing here)", c.rank)
            if c.procedure is winner
            else c
            for c in verdicts
        ]
        suppressor = None
    return Resolution(
        service=service.name,
        code=code,
        winner=winner,
        also=tuple(extenders),
        suppressed_by=suppressor if winner is None else None,
        candidates=(*verdicts, *considered),
    )


def _scope_words(rule: Procedure) -> str:
    if rule.scope_kind == "platform":
        return "the platform's procedure"
    return f"the {rule.scope_kind} {rule.scope_name}'s own rule"


def _why(loser: Procedure, winner: Procedure) -> str:
    if _SCOPE_RANK[winner.scope_kind] > _SCOPE_RANK[loser.scope_kind]:
        return f"a {winner.scope_kind} rule beats a {loser.scope_kind} rule"
    if winner.code is not None and loser.code is None:
        return "an exact code beats a pattern"
    if len(winner.matchers) > len(loser.matchers):
        return "more label matchers"
    return "defined earlier in the catalog"


def find_service(catalog: Catalog, labels: Mapping[str, str]) -> Service | None:
    """The service whose identifying labels the alert carries (the most labels wins, then
    the catalog's order); None for an unknown service."""
    best: tuple[int, Service] | None = None
    for service in catalog.services.values():
        wanted = service.identifying_labels()
        carried = all(labels.get(k) == v for k, v in wanted.items())
        if carried and (best is None or len(wanted) > best[0]):
            best = (len(wanted), service)
    return best[1] if best else None
