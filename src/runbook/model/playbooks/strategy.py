"""How a playbook run progresses: batch sizes, the failure limit, rollback order, drift.

Everything here is arithmetic on counts and names; the fleet runner applies it. The rules, as
users should read them:

- **Batches.** ``batch_size`` is a count (``5``), a percentage of the targets known when the
  run starts (``"10%"``, rounded down, at least 1), or a list of those: the list gives the
  sizes of the first batches in order and its *last* entry repeats until every target is in a
  batch. A size larger than what remains is cut to what remains.
- **Failures.** ``max_failures`` is a count, or ``"N%"`` of the targets at start rounded down.
  The run stops when the number of FAILED targets *exceeds* it: ``0`` stops at the first
  failure, ``2`` at the third. Stopping means no new target starts (in this batch or a later
  one); targets already running finish; targets still PENDING become SKIPPED.
- **A target's failure** (``on_failure``): ``stop`` runs none of its later steps;
  ``continue`` runs them anyway; ``rollback`` runs none of them and rolls back the failed step
  and the steps it completed before, newest first. Either way the target ends FAILED.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal, TypeVar

from runbook.errors import SpecError
from runbook.model.playbooks.playbook import (
    AddedTargets,
    OnFailure,
    RunbookStep,
    Step,
    StrategySpec,
    Target,
)
from runbook.model.spec_builder import describe

BatchSize = int | str
T = TypeVar("T")

_PERCENT: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")
_KEYS: Final = (
    *("batch_size", "max_failures", "concurrency"),
    *("pause_between_batches", "on_failure", "added_targets"),
)


def percentage(value: object) -> Fraction | None:
    """The N of an ``"N%"`` string as an exact fraction (``"12.5%"`` → 25/2), else None."""
    if not isinstance(value, str):
        return None
    match = _PERCENT.fullmatch(value)
    return Fraction(match.group(1)) if match else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def batch_size_problem(value: object) -> str | None:
    """Why ``value`` is not one batch size (an int ≥ 1 or ``"N%"`` with 0 < N ≤ 100)."""
    count, percent = _count(value), percentage(value)
    if count is not None and count >= 1:
        return None
    if percent is not None and 0 < percent <= 100:
        return None
    return f"expected a count ≥ 1 or a percentage such as '10%' (0 < N ≤ 100), not {value!r}"


def max_failures_problem(value: object) -> str | None:
    """Why ``value`` is not a failure limit (an int ≥ 0 or ``"N%"`` with 0 ≤ N ≤ 100)."""
    count, percent = _count(value), percentage(value)
    if count is not None and count >= 0:
        return None
    if percent is not None and percent <= 100:
        return None
    return f"expected a count ≥ 0 or a percentage such as '10%' (0 ≤ N ≤ 100), not {value!r}"


def _size(entry: BatchSize, total: int) -> int:
    problem = batch_size_problem(entry)
    if problem is not None:
        raise ValueError(f"batch_size: {problem}")
    percent = percentage(entry)
    if percent is None:
        return int(entry)
    # Exact arithmetic: 10% of 30 must be 3, not 2 from a float landing on 2.9999….
    return max(1, math.floor(percent * total / 100))


def batch_sizes(spec: BatchSize | Sequence[BatchSize], total: int) -> list[int]:
    """The sizes of the successive batches of a run over ``total`` targets.

    ``spec`` is one size or a non-empty list of sizes; a size is a count (int ≥ 1) or
    ``"N%"`` (0 < N ≤ 100). A percentage is of ``total`` (the targets at run start), rounded
    down, and at least 1. The list gives the first batches in order; its last entry repeats
    until every target is in a batch; a size larger than what remains is cut. The result
    sums to ``total`` and is empty when ``total`` is 0.

    ``[1, "10%", "100%"]`` over 50 gives ``[1, 5, 44]``, over 5 gives ``[1, 1, 3]``; ``2`` over
    5 gives ``[2, 2, 1]``. Raises ValueError for a bad size, an empty list or ``total < 0``.
    """
    entries = [spec] if isinstance(spec, int | str) else list(spec)
    if not entries:
        raise ValueError("batch_size: the list of batch sizes is empty")
    if total < 0:
        raise ValueError(f"cannot batch {total} targets")
    sizes = [_size(entry, total) for entry in entries]
    result: list[int] = []
    remaining = total
    while remaining > 0:
        take = min(sizes[min(len(result), len(sizes) - 1)], remaining)
        result.append(take)
        remaining -= take
    return result


def split_batches(items: Sequence[T], spec: BatchSize | Sequence[BatchSize]) -> list[list[T]]:
    """``items`` cut, in order, into batches sized by :func:`batch_sizes` over ``len(items)``.

    To batch targets added during a run, pass the size of the last batch planned at start
    (``batch_sizes(spec, total)[-1]``) so that percentages keep meaning the same number.
    """
    batches: list[list[T]] = []
    offset = 0
    for size in batch_sizes(spec, len(items)):
        batches.append(list(items[offset : offset + size]))
        offset += size
    return batches


def failure_limit(max_failures: int | str, total: int) -> int:
    """How many FAILED targets a run over ``total`` targets tolerates.

    A count is itself; ``"N%"`` is N% of ``total`` rounded down (``"10%"`` of 25 is 2, of 5
    is 0). The run stops once the failures :func:`exceed <exceeds>` this limit. Raises
    ValueError for anything else than an int ≥ 0 or ``"N%"`` with 0 ≤ N ≤ 100.
    """
    problem = max_failures_problem(max_failures)
    if problem is not None:
        raise ValueError(f"max_failures: {problem}")
    percent = percentage(max_failures)
    if percent is None:
        return int(max_failures)
    return math.floor(percent * max(total, 0) / 100)


def exceeds(failed: int, limit: int) -> bool:
    """Whether ``failed`` targets are too many: strictly more than ``limit``.

    With limit 0 the first failure stops the run; with limit 2, the third.
    """
    return failed > limit


@dataclass(frozen=True)
class Rollback:
    """One step to roll back on a target.

    ``kind`` ``shell``: run the step's ``rollback`` command; ``runbook``: run the runbook
    again with its ``rollback`` cells (the engine's rollback of that runbook).
    """

    index: int
    name: str
    kind: Literal["shell", "runbook"]


def rollback_plan(
    steps: Sequence[Step], completed: Iterable[int], failed: int | None
) -> list[Rollback]:
    """What ``on_failure: rollback`` undoes on a target, newest first.

    ``completed`` are the indexes (in ``steps``) of the steps that succeeded on the target,
    ``failed`` the index of the step that failed (None when undoing a target that did not
    fail, e.g. on an operator's request). The failed step comes first (it may have half
    happened), then the completed steps from the latest to the earliest. Runbook steps are
    always included; shell steps only when they declare a ``rollback``.
    """
    order = sorted(set(completed) - {failed}, reverse=True)
    if failed is not None:
        order.insert(0, failed)
    plan: list[Rollback] = []
    for index in order:
        step = steps[index]
        if isinstance(step, RunbookStep):
            plan.append(Rollback(index, step.name, "runbook"))
        elif step.rollback is not None:
            plan.append(Rollback(index, step.name, "shell"))
    return plan


def inventory_drift(
    known_names: Iterable[str], current_targets: Iterable[Target]
) -> tuple[list[Target], list[str]]:
    """``(added, removed)`` between the targets a run knows and the inventory read now.

    ``added`` are the current targets whose names the run does not know, in inventory order;
    ``removed`` the known names no longer in the inventory, in the order given. A target
    whose address or vars changed under the same name is neither: names identify targets.
    """
    known = list(dict.fromkeys(known_names))
    current = list(current_targets)
    present = {target.name for target in current}
    seen = set(known)
    added = [target for target in current if target.name not in seen]
    removed = [name for name in known if name not in present]
    return added, removed


def build_strategy(raw: object, where: str, errors: list[SpecError]) -> StrategySpec:
    """The ``strategy`` mapping of a playbook (defaults for null); problems go to ``errors``.

    Each problem is placed at its key, e.g. ``strategy.batch_size[1]``; the defaults stand in
    for invalid values so the rest is still checked.
    """
    defaults = StrategySpec()
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        errors.append(SpecError(where, f"expected a mapping, not {describe(raw)}"))
        return defaults

    def fail(key: str, reason: str) -> None:
        errors.append(SpecError(f"{where}.{key}", reason))

    for key in raw:
        if key not in _KEYS:
            fail(str(key), f"unknown key (expected one of: {', '.join(_KEYS)})")
    batch = raw.get("batch_size", list(defaults.batch_size))
    entries = batch if isinstance(batch, list) else [batch]
    if not entries:
        fail("batch_size", "expected a batch size or a non-empty list of them")
    for i, entry in enumerate(entries):
        if problem := batch_size_problem(entry):
            fail("batch_size" + (f"[{i}]" if isinstance(batch, list) else ""), problem)
    failures = raw.get("max_failures", defaults.max_failures)
    if problem := max_failures_problem(failures):
        fail("max_failures", problem)
    concurrency = raw.get("concurrency", defaults.concurrency)
    if _count(concurrency) is None or concurrency < 1:
        fail("concurrency", f"expected an integer ≥ 1, not {describe(concurrency)}")
        concurrency = defaults.concurrency
    pause = raw.get("pause_between_batches", defaults.pause_between_batches)
    if isinstance(pause, bool) or not isinstance(pause, int | float) or not pause >= 0:
        fail("pause_between_batches", f"expected seconds ≥ 0, not {describe(pause)}")
        pause = 0.0
    elif not math.isfinite(pause):
        fail("pause_between_batches", "expected a finite number of seconds")
    choices: list[str] = []
    for key, kind in (("on_failure", OnFailure), ("added_targets", AddedTargets)):
        value = raw.get(key, getattr(defaults, key).value)
        allowed = [member.value for member in kind]
        if value not in allowed:
            fail(key, f"expected one of {', '.join(allowed)}, not {describe(value)}")
            value = getattr(defaults, key).value
        choices.append(str(value))
    return StrategySpec(
        tuple(entries),
        failures,
        concurrency,
        float(pause),
        OnFailure(choices[0]),
        AddedTargets(choices[1]),
    )
