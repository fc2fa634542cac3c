"""Standing approvals: a reviewer's approval of a procedure for unattended callers.

A standing approval names a runbook at its content hash, the callers that may use it
(``workflow:NAME``, ``playbook:NAME``, ``catalog:RULE``), a bound on every parameter, an
expiry, and whether ``confirm`` cells may run with nobody there. A plan such a caller makes
is approved by it when the runbook is unchanged and every value is inside its bound;
otherwise the plan is refused, in one line naming what failed.

Bounds, as written on the command line (``--bound NAME=…``): ``VALUE`` (exactly that),
``A|B|C`` (one of them), ``~REGEX`` (a full match), ``LO..HI`` (a number in the range,
either end may be left open), ``*`` (anything).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from runbook.errors import UsageError
from runbook.model.modules import Manifest

BoundKind = Literal["value", "choices", "pattern", "range", "any"]
CALLER_KINDS: Final = ("workflow", "playbook", "catalog", "schedule", "sensor")
#: The callers of an approval of a workflow file: its triggers, firing with nobody there.
TRIGGER_KINDS: Final = ("schedule", "sensor")
_RANGE: Final = re.compile(r"^(-?[0-9.]*)\.\.(-?[0-9.]*)$")


@dataclass(frozen=True)
class Bound:
    """What one parameter may be under a standing approval."""

    kind: BoundKind
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def refusal(self, name: str, value: object) -> str | None:
        """Why ``value`` is outside this bound (one line naming ``name``), or None."""
        shown = _text(value)
        if self.kind == "any":
            return None
        if self.kind == "value" and shown != self.values[0]:
            return f"{name} = {shown!r} is not {self.values[0]!r}"
        if self.kind == "choices" and shown not in self.values:
            return f"{name} = {shown!r} is not one of {', '.join(self.values)}"
        if self.kind == "pattern" and re.fullmatch(self.values[0], shown) is None:
            return f"{name} = {shown!r} does not match ~{self.values[0]}"
        if self.kind == "range":
            return self._out_of_range(name, value)
        return None

    def _out_of_range(self, name: str, value: object) -> str | None:
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number):
            return f"{name} = {_text(value)!r} is not a number in {self.describe()}"
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            return f"{name} = {number} is outside {self.describe()}"
        return None

    def describe(self) -> str:
        """The bound as it is written on the command line."""
        if self.kind == "any":
            return "*"
        if self.kind == "choices":
            return "|".join(self.values)
        if self.kind == "pattern":
            return f"~{self.values[0]}"
        if self.kind == "range":
            return f"{_number(self.low)}..{_number(self.high)}"
        return self.values[0]

    def to_json(self) -> dict[str, Any]:
        """The form kept in the store."""
        return {"kind": self.kind, "values": list(self.values), "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bound:
        """The bound :meth:`to_json` kept."""
        return cls(
            kind=data["kind"],
            values=tuple(str(v) for v in data.get("values", ())),
            low=data.get("low"),
            high=data.get("high"),
        )


def parse_bound(text: str) -> tuple[str, Bound]:
    """``NAME=BOUND`` as ``--bound`` takes it; UsageError naming what is wrong."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise UsageError(f"--bound {text!r}: expected NAME=BOUND (VALUE, A|B, ~REGEX, LO..HI, *)")
    if spec == "*":
        return name, Bound("any")
    if spec.startswith("~"):
        try:
            re.compile(spec[1:])
        except re.error as error:
            raise UsageError(f"--bound {text!r}: not a regular expression: {error}") from None
        return name, Bound("pattern", (spec[1:],))
    found = _RANGE.match(spec)
    if ".." in spec and not (found and (found.group(1) or found.group(2))):
        raise UsageError(f"--bound {text!r}: a range is LO..HI, numbers (~REGEX for text)")
    if found:
        try:
            low, high = (float(g) if g else None for g in found.groups())
        except ValueError:
            raise UsageError(f"--bound {text!r}: a range is LO..HI, numbers") from None
        if low is not None and high is not None and low > high:
            raise UsageError(f"--bound {text!r}: the range's low end is above its high end")
        return name, Bound("range", low=low, high=high)
    if "|" in spec:
        return name, Bound("choices", tuple(v for v in spec.split("|")))
    return name, Bound("value", (spec,))


def check_caller(caller: str) -> str:
    """``KIND:NAME`` with a known kind; UsageError otherwise."""
    kind, sep, name = caller.partition(":")
    if not sep or kind not in CALLER_KINDS or not name.strip():
        raise UsageError(
            f"--for {caller!r}: expected workflow:NAME, playbook:NAME, catalog:RULE, "
            "schedule:WORKFLOW or sensor:WORKFLOW"
        )
    return f"{kind}:{name.strip()}"


@dataclass(frozen=True)
class StandingApproval:
    """A reviewer's approval of ``runbook_path`` at ``runbook_sha256`` for ``callers``."""

    id: str
    runbook_path: str
    runbook_sha256: str
    bounds: Mapping[str, Bound]
    callers: tuple[str, ...]
    approved_by: str
    approved_at: datetime
    expires_at: datetime
    confirm_unattended: bool = False
    comment: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    identity_kind: str = "claimed"
    #: The repository code the cells could import when it was approved (as a plan binds it).
    modules: Manifest = field(default_factory=dict)

    def refusal(
        self, caller: str, runbook_sha256: str, parameters: Mapping[str, object], now: datetime
    ) -> str | None:
        """Why a plan by ``caller`` of this runbook with these values is not approved by
        this standing approval (one line), or None when it is."""
        if self.revoked_at is not None:
            return f"standing approval {self.id} was revoked by {self.revoked_by}"
        if now >= self.expires_at:
            return f"standing approval {self.id} expired at {self.expires_at.isoformat()}"
        if caller not in self.callers:
            return f"standing approval {self.id} is not for {caller} ({', '.join(self.callers)})"
        if runbook_sha256 != self.runbook_sha256:
            return (
                f"standing approval {self.id}: {self.runbook_path} changed since it was "
                f"approved (sha256 {runbook_sha256[:12]}… != {self.runbook_sha256[:12]}…)"
            )
        for name, value in parameters.items():
            bound = self.bounds.get(name)
            if bound is None:
                return f"standing approval {self.id} has no bound for parameter {name}"
            reason = bound.refusal(name, value)
            if reason is not None:
                return f"standing approval {self.id}: {reason}"
        return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else str(value)
