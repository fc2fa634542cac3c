"""Anchors: the head of the audit chain, recorded where the database's writer cannot reach.

An anchor says "on this store, event ``event_id`` had hash ``hash`` and was the
``count``-th event of the log". Anchors are kept, oldest first, in two places that must
agree: the file ``.runbook/audit-anchor.json`` of the repository (rewritten atomically,
never shortened) and, in a git repository, one commit per anchor on the ref
``refs/runbook/audit-anchor`` (so git's history and reflog keep every one, and the ref can
be pushed somewhere the store's writer cannot rewrite).

A chain agrees with an anchor when the event ``event_id`` is present with that hash and
exactly ``count`` events lead up to it: since each hash covers the one before, the whole
prefix is then as it was when anchored. :class:`AnchorCheck` checks every anchor against a
chain streamed once; :func:`compare_histories` says whether the file and the ref agree.

An anchor is keyed by its store (``store``, the database URL without password), so that a
repository that moves to another database does not hold the new one to the old one's
anchors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from runbook.model.audit import AuditEvent

ANCHOR_FILE: Final = "audit-anchor.json"
"""The anchor file's name, under the repository's ``.runbook/`` folder."""

ANCHOR_REF: Final = "refs/runbook/audit-anchor"
"""The git ref of the anchors when the repository is the top of its git repository."""

FORMAT: Final = "runbook-audit-anchor/1"

_DIGEST = frozenset("0123456789abcdef")


class AnchorFormatError(ValueError):
    """An anchor file or anchor commit that is not what runbook writes."""


@dataclass(frozen=True)
class Anchor:
    """The head of one store's audit chain at one moment."""

    store: str
    event_id: int
    hash: str
    count: int
    event_at: datetime
    anchored_at: datetime
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The anchor as a JSON object (timestamps in ISO form)."""
        return {
            "store": self.store,
            "event_id": self.event_id,
            "hash": self.hash,
            "count": self.count,
            "event_at": self.event_at.isoformat(),
            "anchored_at": self.anchored_at.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, value: object, where: str) -> Anchor:
        """An anchor from its JSON object; AnchorFormatError naming ``where`` otherwise."""
        if not isinstance(value, dict):
            raise AnchorFormatError(f"{where}: an anchor must be a JSON object")
        try:
            anchor = cls(
                store=_text(value, "store"),
                event_id=_count(value, "event_id", minimum=1),
                hash=_text(value, "hash"),
                count=_count(value, "count", minimum=1),
                event_at=_moment(value, "event_at"),
                anchored_at=_moment(value, "anchored_at"),
                reason=_text(value, "reason"),
            )
        except (TypeError, ValueError) as error:
            raise AnchorFormatError(f"{where}: {error}") from None
        if len(anchor.hash) != 64 or not set(anchor.hash) <= _DIGEST:
            raise AnchorFormatError(f"{where}: hash is not a sha256 hex digest")
        return anchor

    def describe(self) -> str:
        """``the anchor of <time> (event N, M events)`` for messages."""
        when = self.anchored_at.isoformat(timespec="seconds")
        return f"the anchor of {when} (event {self.event_id}, {self.count} events)"


def anchor_file_text(anchors: Iterable[Anchor]) -> str:
    """The anchor file's content: the format and the anchors, oldest first."""
    listed = [anchor.to_json() for anchor in anchors]
    body = ",\n".join("  " + json.dumps(item, sort_keys=True) for item in listed)
    return f'{{"format": "{FORMAT}", "anchors": [\n{body}\n]}}\n'


def parse_anchor_file(text: str, where: str) -> list[Anchor]:
    """The anchors of an anchor file; AnchorFormatError naming ``where`` otherwise."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise AnchorFormatError(f"{where}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise AnchorFormatError(f"{where}: not a runbook anchor file (format {FORMAT!r})")
    anchors = document.get("anchors")
    if not isinstance(anchors, list):
        raise AnchorFormatError(f"{where}: 'anchors' must be a list")
    return [Anchor.from_json(item, f"{where}: anchor {n}") for n, item in enumerate(anchors, 1)]


def anchor_message(anchor: Anchor) -> str:
    """The git commit message holding ``anchor``: a summary line, then its JSON."""
    summary = f"audit anchor: event {anchor.event_id} ({anchor.count} events), {anchor.reason}"
    return f"{' '.join(summary.split())[:200]}\n\n{json.dumps(anchor.to_json(), sort_keys=True)}\n"


def parse_anchor_message(message: str, where: str) -> Anchor:
    """The anchor held by a commit message written by :func:`anchor_message`."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        raise AnchorFormatError(f"{where}: empty commit message")
    try:
        value = json.loads(lines[-1])
    except (ValueError, RecursionError):
        raise AnchorFormatError(f"{where}: the commit holds no anchor") from None
    return Anchor.from_json(value, where)


def latest_for(anchors: Iterable[Anchor], store: str) -> Anchor | None:
    """The anchor of ``store`` naming the newest event, if any."""
    mine = [anchor for anchor in anchors if anchor.store == store]
    return max(mine, key=lambda anchor: anchor.event_id) if mine else None


@dataclass(frozen=True)
class Agreement:
    """How the anchor file and the git ref compare (see :func:`compare_histories`).

    ``ref_behind`` is how many of the file's newest anchors the ref lacks, when the ref is
    otherwise a copy of the file: what a process killed between writing the file and
    moving the ref leaves, and what the next ``runbook audit anchor`` repairs.
    """

    agree: bool
    ref_behind: int = 0
    problem: str = ""


def compare_histories(file: list[Anchor], ref: list[Anchor], ref_name: str) -> Agreement:
    """Compare the file's anchors with the ref's, both oldest first."""
    if file == ref:
        return Agreement(agree=True)
    shorter = min(len(file), len(ref))
    if file[:shorter] == ref[:shorter]:
        if len(ref) < len(file):
            missing = len(file) - len(ref)
            return Agreement(
                agree=False,
                ref_behind=missing,
                problem=(
                    f"the git ref {ref_name} lacks the newest {missing} of the anchor file's "
                    f"{len(file)} anchors (a write was interrupted, or the ref was rolled "
                    "back): `runbook audit anchor` brings it up to date"
                ),
            )
        newest = ref[-1]
        return Agreement(
            agree=False,
            problem=(
                f"the anchor file lacks the newest {len(ref) - len(file)} of the git ref "
                f"{ref_name}'s {len(ref)} anchors, up to {newest.describe()}: the file was "
                "rolled back or replaced"
            ),
        )
    index = next(n for n in range(shorter) if file[n] != ref[n])
    return Agreement(
        agree=False,
        problem=(
            f"the anchor file and the git ref {ref_name} disagree from anchor {index + 1}: "
            f"the file has {file[index].describe()}, the ref {ref[index].describe()}"
        ),
    )


@dataclass
class AnchorCheck:
    """Checks anchors against a chain fed to :meth:`see` in id order, then :meth:`findings`.

    ``sources`` names where each anchor was found ("the anchor file", "the git ref…").
    """

    anchors: list[Anchor]
    sources: dict[Anchor, str] = field(default_factory=dict)
    _by_id: dict[int, list[Anchor]] = field(default_factory=dict, init=False)
    _seen: dict[Anchor, tuple[str, int]] = field(default_factory=dict, init=False)
    _count: int = field(default=0, init=False)
    _last_id: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        for anchor in self.anchors:
            self._by_id.setdefault(anchor.event_id, []).append(anchor)

    def see(self, event: AuditEvent) -> None:
        """Take the next event of the chain."""
        self._count += 1
        self._last_id = event.id
        for anchor in self._by_id.get(event.id or 0, ()):
            self._seen[anchor] = (event.hash, self._count)

    def findings(self) -> list[str]:
        """One line per problem: at most one truncation, one rewrite and one deletion."""
        found: list[str] = []
        beyond = [a for a in self.anchors if self._last_id is None or a.event_id > self._last_id]
        if beyond:
            found.append(self._truncated(max(beyond, key=lambda a: a.event_id)))
        rewritten = [a for a, (digest, _) in self._seen.items() if digest != a.hash]
        if rewritten:
            found.append(self._rewritten(min(rewritten, key=lambda a: a.event_id), rewritten))
        missing = [a for a in self.anchors if a not in self._seen and a not in beyond]
        miscounted = [
            a for a, (digest, count) in self._seen.items() if digest == a.hash and count != a.count
        ]
        gone = sorted(missing + miscounted, key=lambda a: a.event_id)
        if gone:
            found.append(self._deleted(gone[0]))
        return found

    def _where(self, anchor: Anchor) -> str:
        source = self.sources.get(anchor)
        return f"{anchor.describe()} in {source}" if source else anchor.describe()

    def _truncated(self, anchor: Anchor) -> str:
        if self._last_id is None:
            return (
                f"the log is empty, but {self._where(anchor)} says it held {anchor.count} "
                "events: the log was wiped"
            )
        return (
            f"the log ends at event {self._last_id} ({self._count} events), but "
            f"{self._where(anchor)} recorded event {anchor.event_id}: the newest events "
            "were deleted"
        )

    def _rewritten(self, anchor: Anchor, every: list[Anchor]) -> str:
        digest = self._seen[anchor][0]
        more = f" ({len(every) - 1} later anchors disagree too)" if len(every) > 1 else ""
        return (
            f"event {anchor.event_id} has hash {digest[:12]}…, but {self._where(anchor)} "
            f"recorded {anchor.hash[:12]}…: the log was rewritten at or before event "
            f"{anchor.event_id}{more}"
        )

    def _deleted(self, anchor: Anchor) -> str:
        if anchor not in self._seen:
            return (
                f"event {anchor.event_id}, named by {self._where(anchor)}, is missing: "
                "events were deleted"
            )
        count = self._seen[anchor][1]
        return (
            f"{count} events lead up to event {anchor.event_id}, but {self._where(anchor)} "
            f"recorded {anchor.count}: events before it were "
            f"{'deleted' if count < anchor.count else 'inserted'}"
        )


def _field(value: dict[str, Any], key: str) -> object:
    if key not in value:
        raise ValueError(f"{key} is missing")
    return value[key]


def _text(value: dict[str, Any], key: str) -> str:
    item = _field(value, key)
    if not isinstance(item, str) or not item:
        raise ValueError(f"{key} must be a non-empty string")
    return item


def _count(value: dict[str, Any], key: str, *, minimum: int) -> int:
    item = _field(value, key)
    if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
        raise ValueError(f"{key} must be an integer of at least {minimum}")
    return item


def _moment(value: dict[str, Any], key: str) -> datetime:
    moment = datetime.fromisoformat(_text(value, key))
    if moment.tzinfo is None:
        raise ValueError(f"{key} must have a timezone")
    return moment
