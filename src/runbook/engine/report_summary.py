"""The part of a run's report that is not the notebook: the run's facts, every cell's timing
and decision, and (when orchestrate gathered it) the plan and approval behind the run, every
gate decision and rollback.

Everything here comes from records that people and cells wrote (names, comments, error
text), so every value is escaped: HTML with :func:`html.escape`, Markdown with :func:`md`.
Nothing from a record is ever markup.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from runbook.model.report_record import GateDecision, ReportRecord, ReviewLine
from runbook.model.run import CellEvent, Decision, Run

DECISION_WORDS: Final = {
    Decision.YES: "confirmed",
    Decision.SKIP: "skipped",
    Decision.ABORT: "aborted",
    Decision.ROLLBACK: "rolled back",
    Decision.RETRY: "retried",
    Decision.ACKNOWLEDGED: "acknowledged",
}
_AFTER_WORDS: Final = {
    None: "at the gate",
    "interrupted": "after Ctrl-C",
    "failed": "after a failure",
}
#: ``decided_by`` of a rollback cell's event: the executor ran it because of a rollback.
ROLLBACK_RUNNER: Final = "rollback"

EVENT_HEADERS: Final = ("Cell", "Type", "Tags", "Status", "Duration", "Decision", "By", "Error")
_REVIEW_HEADERS: Final = (
    "Reviewer",
    "Verdict",
    "At",
    "Identity",
    "Signature",
    "Key",
    "Comment",
)
_DECISION_HEADERS: Final = ("Cell", "At", "When", "Decision", "By")
_ROLLBACK_HEADERS: Final = ("After cell", "At", "Triggered by", "Rollback cells run")

#: Code and long lines wrap instead of running off the page (or being cut when printed):
#: JupyterLab's theme keeps ``pre`` unwrapped and scrolls it, which a PDF cannot do. Inline,
#: our own rules: the CSP allows inline styles, nothing is fetched.
WRAP_CSS: Final = (
    "<style>pre,code,kbd,samp,.jp-RenderedText pre,.highlight pre,.jp-InputArea-editor pre"
    "{white-space:pre-wrap!important;overflow-wrap:anywhere!important;word-break:normal}"
    ".jp-OutputArea-output,.jp-RenderedText,.jp-InputArea-editor,.highlight,.jp-Cell"
    "{overflow-x:visible!important;max-width:100%}"
    ".jp-InputArea-editor,.jp-OutputArea-output{min-width:0}</style>"
)
SUMMARY_CSS: Final = (
    "<style>.rb-summary{font-family:sans-serif;margin:1em 0 2em;padding:1em;"
    "border:1px solid #ccc}.rb-summary table{border-collapse:collapse;margin:.5em 0}"
    ".rb-summary th,.rb-summary td{border:1px solid #ddd;padding:2px 8px;text-align:left;"
    "overflow-wrap:anywhere}"
    ".rb-status-failed,.rb-status-interrupted,.rb-signature-INVALID{color:#b00}"
    ".rb-signature-INVALID{font-weight:bold}</style>"
)


def when(moment: datetime | None) -> str:
    """A moment as the report shows it, to the second."""
    return moment.isoformat(sep=" ", timespec="seconds") if moment else "-"


def seconds(value: float | None) -> str:
    """A duration as the report shows it."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f} s"
    minutes, rest = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"


def _run_rows(run: Run) -> list[tuple[str, str]]:
    rows = [
        ("Run", run.id),
        ("Plan", run.plan_id),
        ("Executor", run.executor),
        ("Mode", run.mode.value),
        ("State", run.state.value),
        ("Started", when(run.started_at)),
        ("Ended", when(run.ended_at)),
        ("Duration", seconds(run.duration)),
    ]
    if run.resumed_from:
        rows.append(("Resumed from", run.resumed_from))
    if run.message:
        rows.append(("Message", run.message))
    return rows


def _event_row(event: CellEvent) -> list[str]:
    error = (event.error or "").strip().splitlines()
    return [
        str(event.cell_index),
        event.cell_type,
        ", ".join(event.tags),
        event.status.value,
        seconds(event.duration),
        DECISION_WORDS[event.decision] if event.decision else "",
        event.decided_by or "",
        error[-1] if error else "",
    ]


def _plan_rows(record: ReportRecord, run: Run) -> list[tuple[str, str]]:
    return [
        ("Plan", record.plan_id),
        ("Runbook", f"{record.title} ({record.runbook})"),
        ("Planned by", record.planned_by),
        ("Planned at", when(record.planned_at)),
        ("Plan sha256", record.plan_sha256),
        ("Review required", "yes" if record.review_required else "no"),
        # Set for a plan an unattended caller made under a standing approval.
        ("Standing approval", record.standing_approval or "none"),
        ("Executor", run.executor),
    ]


def _parameter_rows(record: ReportRecord) -> list[tuple[str, str]]:
    # Values as JSON: a string reads as a string, and a secret is its reference already.
    return [
        (name, json.dumps(value, ensure_ascii=False, default=str))
        for name, value in sorted(record.parameters.items())
    ]


def _review_row(review: ReviewLine) -> list[str]:
    return [
        review.reviewer,
        review.verdict.value,
        when(review.reviewed_at),
        review.identity_kind.value,
        review.signature.value,
        review.signer_key or "",
        review.comment or "",
    ]


def _decision_row(decision: GateDecision) -> list[str]:
    return [
        str(decision.cell_index),
        when(decision.at),
        _AFTER_WORDS.get(decision.after, decision.after or ""),
        DECISION_WORDS[decision.decision],
        decision.decided_by,
    ]


def _rollback_rows(record: ReportRecord, events: Sequence[CellEvent]) -> list[list[str]]:
    ran = ", ".join(
        f"{e.cell_index} ({e.status.value})" for e in events if e.decided_by == ROLLBACK_RUNNER
    )
    return [
        [str(d.cell_index), when(d.at), d.decided_by, ran or "none"]
        for d in record.decisions
        if d.decision is Decision.ROLLBACK
    ]


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _facts_html(rows: Sequence[tuple[str, str]], css: str) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css}">{body}</table>'


def _table_html(
    headers: Sequence[str], rows: Sequence[Sequence[str]], css: str, row_css: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        (f'<tr class="{_e(row_css[i])}">' if i < len(row_css) else "<tr>")
        + "".join(f"<td>{_e(v)}</td>" for v in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _record_html(record: ReportRecord, run: Run, events: Sequence[CellEvent]) -> str:
    parts = ["<h3>Plan and approval</h3>", _facts_html(_plan_rows(record, run), "rb-plan")]
    parameters = _parameter_rows(record)
    parts.append(
        _table_html(("Parameter", "Value"), parameters, "rb-parameters")
        if parameters
        else "<p>Parameters: none</p>"
    )
    if record.reviews:
        parts.append(
            _table_html(
                _REVIEW_HEADERS,
                [_review_row(r) for r in record.reviews],
                "rb-reviews",
                [f"rb-signature-{r.signature.value}" for r in record.reviews],
            )
        )
    else:
        parts.append("<p>Reviews: none</p>")
    parts.append("<h3>Gate decisions</h3>")
    parts.append(
        _table_html(_DECISION_HEADERS, [_decision_row(d) for d in record.decisions], "rb-gates")
        if record.decisions
        else "<p>No decision was taken at a gate.</p>"
    )
    rollbacks = _rollback_rows(record, events)
    parts.append("<h3>Rollbacks</h3>")
    parts.append(
        _table_html(_ROLLBACK_HEADERS, rollbacks, "rb-rollbacks")
        if rollbacks
        else "<p>No rollback.</p>"
    )
    return "".join(parts)


def summary_html(
    title: str, run: Run, events: Sequence[CellEvent], record: ReportRecord | None = None
) -> str:
    """The report's summary section: the run, its cells, and the record when given."""
    rows = [_event_row(event) for event in events]
    statuses = [f"rb-status-{event.status.value}" for event in events]
    return (
        f'{SUMMARY_CSS}<section class="rb-summary"><h2>{_e(title)}</h2>'
        + _facts_html(_run_rows(run), "rb-run")
        + (_record_html(record, run, events) if record is not None else "")
        + ("<h3>Cells</h3>" if record is not None else "")
        + _table_html(EVENT_HEADERS, rows, "rb-cells", statuses)
        + "</section>"
    )


def md(value: str) -> str:
    """``value`` as inert Markdown text on one line: no markup, no table cell break."""
    escaped = html.escape(" ".join(value.split()), quote=False)
    return re.sub(r"([\\`*_\[\]|#!])", r"\\\1", escaped)


def _table_md(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(md(h) for h in headers) + " |",
        "|---" * len(headers) + "|",
        *("| " + " | ".join(md(v) for v in row) + " |" for row in rows),
    ]


def _record_markdown(record: ReportRecord, run: Run, events: Sequence[CellEvent]) -> list[str]:
    lines = ["## Plan and approval", "", *_table_md(("", ""), _plan_rows(record, run)), ""]
    parameters = _parameter_rows(record)
    lines += [*_table_md(("Parameter", "Value"), parameters), ""] if parameters else []
    if record.reviews:
        lines += [*_table_md(_REVIEW_HEADERS, [_review_row(r) for r in record.reviews]), ""]
    else:
        lines += ["Reviews: none", ""]
    lines += ["## Gate decisions", ""]
    if record.decisions:
        lines += [*_table_md(_DECISION_HEADERS, [_decision_row(d) for d in record.decisions]), ""]
    else:
        lines += ["No decision was taken at a gate.", ""]
    rollbacks = _rollback_rows(record, events)
    lines += ["## Rollbacks", ""]
    lines += [*_table_md(_ROLLBACK_HEADERS, rollbacks), ""] if rollbacks else ["No rollback.", ""]
    return [*lines, "## Cells", ""]


def summary_markdown(
    run: Run, events: Sequence[CellEvent], record: ReportRecord | None = None
) -> str:
    """The report's summary as Markdown tables, with the record when given."""
    lines = ["| | |", "|---|---|", *(f"| {md(k)} | {md(v)} |" for k, v in _run_rows(run)), ""]
    if record is not None:
        lines += _record_markdown(record, run, events)
    lines += _table_md(EVENT_HEADERS, [_event_row(ev) for ev in events])
    return "\n".join(lines) + "\n\n"
