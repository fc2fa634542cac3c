"""``runbook audit anchor``: record the audit chain's head outside the database.

An anchor is written at the end of every run, workflow run and playbook run, after
``runbook gc``, and on demand. It is appended to ``.runbook/audit-anchor.json`` (the whole
file rewritten atomically) and then, in a git repository, committed on the anchor ref (see
:mod:`runbook.orchestrate.audit_git`). Anchoring never blesses a tampered log: the events
since the last anchor must follow from it, and the file and the ref must agree, or nothing
is written and :class:`~runbook.errors.AuditTamperedError` says why. The one disagreement
it repairs is a ref that lacks the file's newest anchors (a process killed between the two
writes): the file's anchors were checked against the log, so they are copied to the ref.

Writers and readers of the anchors take a lock on ``.runbook/audit-anchor.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import AuditTamperedError, FailureError, RunbookError
from runbook.model.audit import AuditEvent, recomputed_hash, verify_chain
from runbook.model.audit_anchor import (
    ANCHOR_FILE,
    Anchor,
    AnchorFormatError,
    anchor_file_text,
    compare_histories,
    latest_for,
    parse_anchor_file,
)
from runbook.model.files import write_atomic
from runbook.model.repository import Repository
from runbook.orchestrate.audit_git import (
    AnchorRef,
    GitError,
    RefAnchors,
    anchor_ref,
    append_to_ref,
    read_ref,
)
from runbook.store.audit import chain_head, count_events, get_event, list_events
from runbook.store.audit_records import store_label
from runbook.store.db import session_scope

_BATCH: Final = 1000
SHOWN_FILE: Final = f".runbook/{ANCHOR_FILE}"
"""The anchor file as messages name it."""
_LOG = logging.getLogger("runbook.audit")


@dataclass(frozen=True)
class AnchorResult:
    """What :func:`anchor_audit` did.

    ``anchor`` is the new anchor, or the newest one when the log had not moved since
    (``created`` False), or None for an empty log. ``ref`` is the git ref holding the
    anchors, None outside git or when it could not be written (``warnings`` says why).
    """

    anchor: Anchor | None
    created: bool
    file: str
    ref: str | None
    warnings: list[str] = field(default_factory=list)


def anchor_audit(
    sessions: sessionmaker[Session], repository: Repository, *, reason: str
) -> AnchorResult:
    """Anchor the chain's head now; AuditTamperedError when the log or anchors disagree."""
    warnings: list[str] = []
    with anchor_lock(repository, exclusive=True):
        file_anchors = read_file_anchors(repository)
        ref, on_ref = _read_ref_for_writing(repository, warnings)
        if on_ref is not None and ref is not None:
            agreement = compare_histories(file_anchors, on_ref.anchors, ref.name)
            if not agreement.agree and not agreement.ref_behind:
                raise AuditTamperedError(f"{agreement.problem}; not anchored", None)
        with reading(sessions) as session:
            store = store_label(session, repository.root)
            head = chain_head(session)
        last = latest_for(file_anchors, store)
        if head is None:
            if last is not None:
                raise AuditTamperedError(
                    f"the log is empty, but {last.describe()} says it held {last.count} "
                    "events: the log was wiped; not anchored",
                    None,
                )
            return AnchorResult(None, False, SHOWN_FILE, None, warnings)
        count = _check_since(sessions, last, head)
        anchors = list(file_anchors)
        created = last is None or head.id != last.event_id
        newest = last
        if created:
            newest = _new_anchor(store, head, count, reason)
            anchors.append(newest)
            try:
                write_atomic(anchor_file(repository), anchor_file_text(anchors))
            except OSError as error:
                raise FailureError(f"{SHOWN_FILE}: cannot write: {_reason(error)}") from None
        written = _write_ref(ref, on_ref, anchors, warnings)
    return AnchorResult(newest, created, SHOWN_FILE, written, warnings)


def anchor_quietly(
    sessions: sessionmaker[Session], repository: Repository, *, reason: str, log: bool = False
) -> list[str]:
    """Anchor at the end of a use case: a failure is a warning, never the use case's error.

    With ``log`` the warnings are also logged (``runbook.audit``), for callers that have
    no other place to show them.
    """
    try:
        warnings = anchor_audit(sessions, repository, reason=reason).warnings
    except AuditTamperedError as error:
        warnings = [f"audit anchor: {error.reason}"]
    except (RunbookError, OSError) as error:
        warnings = [f"audit log not anchored: {error}"]
    for warning in warnings if log else ():
        _LOG.warning("%s", warning)
    return warnings


def anchor_file(repository: Repository) -> Path:
    """The path of the repository's anchor file."""
    return repository.state_dir / ANCHOR_FILE


def read_file_anchors(repository: Repository) -> list[Anchor]:
    """The anchors of the file, oldest first ([] when there is none yet).

    Raises AuditTamperedError naming the file when it cannot be read or is not an anchor
    file.
    """
    shown = SHOWN_FILE
    try:
        text = anchor_file(repository).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise AuditTamperedError(
            f"{shown}: cannot read the anchor file: {_reason(error)}", None
        ) from None
    try:
        return parse_anchor_file(text, shown)
    except AnchorFormatError as error:
        raise AuditTamperedError(str(error), None) from None


@contextlib.contextmanager
def anchor_lock(repository: Repository, *, exclusive: bool) -> Iterator[None]:
    """Hold the anchors' lock (shared for readers) for the block.

    A reader that cannot create the lock file (a read-only repository) reads unlocked:
    nobody can be writing anchors there either.
    """
    path = repository.state_dir / "audit-anchor.lock"
    try:
        repository.state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 (closed below, after unlocking)
    except OSError as error:
        if not exclusive:
            yield
            return
        raise FailureError(f".runbook/{path.name}: cannot lock: {_reason(error)}") from None
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A short transaction on the store, database errors raised as StoreError."""
    with session_scope(sessions.kw["bind"]) as session:
        yield session


def stream_events(
    sessions: sessionmaker[Session], *, after: int | None = None
) -> Iterator[AuditEvent]:
    """The chain in id order from after ``after``, a batch per short transaction.

    Short transactions keep a long read from holding SQLite's write lock (every store
    transaction begins IMMEDIATE) while runs want to record their cells.
    """
    while True:
        with reading(sessions) as session:
            events = list_events(session, after=after, limit=_BATCH)
        yield from events
        if len(events) < _BATCH:
            return
        after = events[-1].id


def _check_since(sessions: sessionmaker[Session], last: Anchor | None, head: AuditEvent) -> int:
    """Check the events since ``last`` follow from it; the count of events up to ``head``."""
    head_id = head.id or 0  # read from the store: always set
    with reading(sessions) as session:
        anchored = get_event(session, last.event_id) if last is not None else None
        before = count_events(session, through=last.event_id) if last is not None else 0
        count = count_events(session, through=head_id)
    if last is not None:
        where = last.describe()
        if head_id < last.event_id:
            problem = f"the log ends at event {head_id}, before {where}"
        elif anchored is None:
            problem = f"event {last.event_id}, named by {where}, is missing"
        elif anchored.hash != last.hash or recomputed_hash(anchored) != anchored.hash:
            problem = f"event {last.event_id} no longer matches {where}"
        elif before != last.count:
            problem = f"{before} events lead up to event {last.event_id}, not {last.count}"
        else:
            problem = ""
        if problem:
            raise AuditTamperedError(f"{problem}: run `runbook audit verify`; not anchored", None)
    report = verify_chain(
        stream_events(sessions, after=last.event_id if last else None), after=anchored
    )
    if not report.ok:
        raise AuditTamperedError(f"{report.reason}; not anchored", report.first_bad_id)
    return count


def _new_anchor(store: str, head: AuditEvent, count: int, reason: str) -> Anchor:
    return Anchor(
        store=store,
        event_id=head.id or 0,
        hash=head.hash,
        count=count,
        event_at=head.at,
        anchored_at=datetime.now(UTC),
        reason=" ".join(reason.split())[:200] or "anchored",
    )


def _read_ref_for_writing(
    repository: Repository, warnings: list[str]
) -> tuple[AnchorRef | None, RefAnchors | None]:
    ref = anchor_ref(repository.root)
    if ref is None:
        return None, None
    try:
        return ref, read_ref(ref)
    except GitError as error:
        warnings.append(f"git ref {ref.name} not updated: {error}")
    except AnchorFormatError as error:
        raise AuditTamperedError(f"{error}; not anchored", None) from None
    return ref, None


def _write_ref(
    ref: AnchorRef | None, on_ref: RefAnchors | None, anchors: list[Anchor], warnings: list[str]
) -> str | None:
    if ref is None or on_ref is None:
        return None
    missing = anchors[len(on_ref.anchors) :]
    if not missing:
        return ref.name
    try:
        append_to_ref(ref, missing, on_ref.head)
    except GitError as error:
        warnings.append(f"git ref {ref.name} not updated: {error}")
        return None
    return ref.name


def _reason(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)
