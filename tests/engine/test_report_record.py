"""A report a change board accepts: the plan and approval, every gate decision, rollbacks,
and code that wraps instead of being cut (issue 12, item 8)."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

from runbook.engine.report import render_html, render_markdown, render_pdf
from runbook.model.report_record import (
    GateDecision,
    ReportRecord,
    ReviewLine,
    SignatureStatus,
    record_from_json,
    record_to_json,
)
from runbook.model.review import IdentityKind, Verdict
from runbook.model.run import CellEvent, CellStatus, Decision, Run, RunMode, RunState
from tests.engine.test_report import _chromium, assert_inert

v4 = nbformat.v4
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
RUN_ID = "20261203-090000-beef"
SHA = "ab12" * 16
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
KEY = "SHA256:6lS1h3Zb0v2t8m4c9wXkYqQe1r5T7u0iOpAsDfGhJkL"


def a_run(**changes: Any) -> Run:
    values: dict[str, Any] = {
        "id": RUN_ID,
        "plan_id": "failover-db-3f2a1c",
        "executor": "dave",
        "mode": RunMode.INTERACTIVE,
        "state": RunState.ROLLED_BACK,
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=1),
        "notebook_path": f"runs/{RUN_ID}/failover-db-3f2a1c.ipynb",
        "lease_owner": "host:1",
        "message": "rolled back after cell 4",
    }
    return Run(**{**values, **changes})


def a_record(**changes: Any) -> ReportRecord:
    values: dict[str, Any] = {
        "plan_id": "failover-db-3f2a1c",
        "runbook": "runbooks/failover-db.ipynb",
        "title": "Fail over the database",
        "planned_by": "alice@example.org",
        "planned_at": T0 - timedelta(hours=2),
        "plan_sha256": SHA,
        "parameters": {"host": "db1", "password": "env:PGPASSWORD", "replicas": 2},
        "review_required": True,
        "reviews": (
            ReviewLine(
                "bob@example.org",
                Verdict.APPROVED,
                T0 - timedelta(hours=1),
                "checked the replica lag first",
                IdentityKind.SSH_KEY,
                SignatureStatus.VALID,
                KEY,
            ),
            ReviewLine(
                f"carol {HOSTILE}",
                Verdict.APPROVED,
                T0 - timedelta(minutes=30),
                f"fine {HOSTILE}",
                IdentityKind.SSH_KEY,
                SignatureStatus.INVALID,
                "SHA256:removed-key",
            ),
            ReviewLine(
                "erin",
                Verdict.REJECTED,
                T0 - timedelta(minutes=20),
                None,
                IdentityKind.CLAIMED,
                SignatureStatus.UNSIGNED,
            ),
            ReviewLine(
                "erin",
                Verdict.WITHDRAWN,
                T0 - timedelta(minutes=10),
                "withdrawn after the call",
                IdentityKind.CLAIMED,
                SignatureStatus.UNSIGNED,
            ),
        ),
        "decisions": (
            GateDecision(2, Decision.YES, "dave", T0 + timedelta(seconds=5)),
            GateDecision(3, Decision.SKIP, "dave", T0 + timedelta(seconds=20), "interrupted"),
            GateDecision(4, Decision.ROLLBACK, f"dave {HOSTILE}", T0 + timedelta(seconds=40),
                         "failed"),
        ),
    }  # fmt: skip
    return ReportRecord(**{**values, **changes})


def cell_events() -> list[CellEvent]:
    def at(second: float) -> datetime:
        return T0 + timedelta(seconds=second)

    return [
        CellEvent(RUN_ID, 2, "code", CellStatus.SUCCEEDED, ("confirm",), decision=Decision.YES,
                  decided_by="dave", started_at=at(5), ended_at=at(6)),
        CellEvent(RUN_ID, 3, "code", CellStatus.INTERRUPTED, (), started_at=at(7),
                  ended_at=at(19), error="KeyboardInterrupt"),
        CellEvent(RUN_ID, 4, "code", CellStatus.FAILED, (), started_at=at(21), ended_at=at(39),
                  error="RuntimeError: lag"),
        CellEvent(RUN_ID, 6, "code", CellStatus.SUCCEEDED, ("rollback",), decided_by="rollback",
                  started_at=at(41), ended_at=at(42)),
    ]  # fmt: skip


def a_notebook() -> Any:
    nb = v4.new_notebook()
    nb.metadata["runbook"] = {"title": "Fail over the database"}
    nb.cells = [v4.new_markdown_cell("# Fail over")]
    return nb


def _section(page: str) -> str:
    return page[page.index("<h3>Plan and approval</h3>") : page.index("<h3>Cells</h3>")]


def test_html_shows_the_plan_and_every_review_escaped() -> None:
    page = render_html(a_notebook(), run=a_run(), events=cell_events(), record=a_record())
    assert_inert(page)
    section = _section(page)
    assert "<th>Plan</th><td>failover-db-3f2a1c</td>" in section
    assert "<th>Runbook</th><td>Fail over the database (runbooks/failover-db.ipynb)</td>" in section
    assert "<th>Planned by</th><td>alice@example.org</td>" in section
    assert "<th>Planned at</th><td>2026-12-03 07:00:00+00:00</td>" in section
    assert f"<th>Plan sha256</th><td>{SHA}</td>" in section  # in full, never shortened
    assert "<th>Review required</th><td>yes</td>" in section
    assert "<th>Standing approval</th><td>none</td>" in section
    assert "<th>Executor</th><td>dave</td>" in section
    # Parameters as JSON; the secret is its reference (the plan never holds a value).
    assert "<td>password</td><td>&quot;env:PGPASSWORD&quot;</td>" in section
    assert "<td>replicas</td><td>2</td>" in section
    reviews = section[section.index('class="rb-reviews"') : section.index('class="rb-gates"')]
    assert '<tr class="rb-signature-valid"><td>bob@example.org</td><td>approved</td>' in reviews
    assert f"<td>ssh-key</td><td>valid</td><td>{KEY}</td>" in reviews
    assert "<td>checked the replica lag first</td>" in reviews
    assert '<tr class="rb-signature-INVALID"><td>carol &lt;script&gt;' in reviews
    assert "<td>ssh-key</td><td>INVALID</td><td>SHA256:removed-key</td>" in reviews
    assert "<td>fine &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;img" in reviews
    assert "<td>erin</td><td>rejected</td>" in reviews and "<td>claimed</td><td>unsigned" in reviews
    assert "<td>erin</td><td>withdrawn</td>" in reviews


def test_html_shows_every_gate_decision_and_the_rollback() -> None:
    page = render_html(a_notebook(), run=a_run(), events=cell_events(), record=a_record())
    section = _section(page)
    gates = section[section.index('class="rb-gates"') : section.index("<h3>Rollbacks</h3>")]
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", gates)
    assert [r.split("</td><td>") for r in rows] == [
        ["2", "2026-12-03 09:00:05+00:00", "at the gate", "confirmed", "dave"],
        ["3", "2026-12-03 09:00:20+00:00", "after Ctrl-C", "skipped", "dave"],
        [
            "4",
            "2026-12-03 09:00:40+00:00",
            "after a failure",
            "rolled back",
            "dave &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
            "&lt;img src=x onerror=alert(1)&gt;",
        ],
    ]
    rollbacks = section[section.index('class="rb-rollbacks"') :]
    assert "<td>4</td><td>2026-12-03 09:00:40+00:00</td><td>dave &lt;script&gt;" in rollbacks
    assert "<td>6 (succeeded)</td>" in rollbacks


def test_a_record_with_nothing_to_show_says_so() -> None:
    record = a_record(reviews=(), decisions=(), parameters={}, review_required=False)
    page = render_html(a_notebook(), run=a_run(), events=[], record=record)
    section = _section(page)
    assert "<p>Parameters: none</p>" in section and "<p>Reviews: none</p>" in section
    assert "<p>No decision was taken at a gate.</p>" in section
    assert "<p>No rollback.</p>" in section
    assert "<th>Review required</th><td>no</td>" in section
    # Without a record the summary is what it was: no empty plan section.
    assert "Plan and approval" not in render_html(a_notebook(), run=a_run(), events=[])


def test_markdown_shows_the_record_as_inert_tables() -> None:
    text = render_markdown(a_notebook(), run=a_run(), events=cell_events(), record=a_record())
    assert "## Plan and approval" in text and "## Gate decisions" in text
    assert f"| Plan sha256 | {SHA} |" in text
    assert "| Standing approval | none |" in text and "| Executor | dave |" in text
    assert '| password | "env:PGPASSWORD" |' in text
    assert (
        f"| bob@example.org | approved | 2026-12-03 08:00:00+00:00 | ssh-key | valid | {KEY} |"
        in (text)
    )
    assert "| ssh\\-key | INVALID |" not in text and "| ssh-key | INVALID |" in text
    assert "| 3 | 2026-12-03 09:00:20+00:00 | after Ctrl-C | skipped | dave |" in text
    assert "| 6 (succeeded) |" in text
    # Review text is text: no tag, no cell break, no link.
    assert "<script" not in text and "<img" not in text
    assert (
        "fine &lt;script&gt;alert('x')&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; |" in text
    )


def test_the_record_survives_the_trip_to_the_worker() -> None:
    record = a_record()
    assert record_from_json(json.loads(json.dumps(record_to_json(record)))) == record


LONG = "".join(f"{i:03d}-" for i in range(100))  # 400 characters, no space to break at


def _long_lines_notebook() -> Any:
    nb = a_notebook()
    nb.cells.append(
        v4.new_code_cell(
            f"print('CODE-{LONG}-END')",
            execution_count=1,
            outputs=[v4.new_output("stream", name="stdout", text=f"OUT-{LONG}-END\n")],
        )
    )
    nb.cells.append(
        v4.new_code_cell(
            "err()",
            execution_count=2,
            outputs=[
                v4.new_output(
                    "error", ename="ValueError", evalue="x", traceback=[f"ERR-{LONG}-END"]
                )
            ],
        )
    )
    return nb


# Test-only: measures, in the real browser, whether each pre/code box shows all it holds.
# The report itself carries no script (and its CSP forbids one): this is added to a copy.
_PROBE = """<script>
window.addEventListener('load', () => {
  const out = [];
  for (const el of document.querySelectorAll('pre, code, .jp-OutputArea-output, .highlight')) {
    out.push([el.tagName, el.className, el.scrollWidth, el.clientWidth,
              el.getBoundingClientRect().right]);
  }
  out.push(['PAGE', '', document.documentElement.scrollWidth,
            document.documentElement.clientWidth, 0]);
  const probe = document.createElement('pre');
  probe.id = 'rb-probe';
  probe.textContent = JSON.stringify(out);
  document.body.append(probe);
});
</script>"""


def _measure(chromium: str, html: str, folder: Path) -> list[list[Any]]:
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "probe.html"
    page.write_text(
        html.replace("Content-Security-Policy", "x-disabled").replace(
            "</body>", _PROBE + "</body>"
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *("--disable-component-update", "--disable-sync", "--no-first-run"),
            f"--user-data-dir={folder / 'profile'}",
            "--window-size=800,1000",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    found = re.search(r'<pre id="rb-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, done.stderr
    measured: list[list[Any]] = json.loads(found.group(1).replace("&quot;", '"'))
    return measured


@pytest.mark.browser
def test_long_lines_wrap_in_chromium_instead_of_being_cut(tmp_path: Path) -> None:
    chromium = _chromium()
    html = render_html(_long_lines_notebook(), run=a_run(), events=cell_events(), record=a_record())
    for marker in (f"CODE-{LONG}-END", f"OUT-{LONG}-END", f"ERR-{LONG}-END"):
        assert marker in re.sub(r"<[^>]+>", "", html)  # the full text is in the page
    measured = _measure(chromium, html, tmp_path)
    boxes = [m for m in measured if m[0] != "PAGE"]
    assert len(boxes) >= 4, measured
    # Nothing scrolls sideways (a scroll bar is what gets cut off in print) and no box
    # reaches past the 800-pixel window.
    assert [m for m in boxes if m[2] > m[3] + 1] == []
    assert [m for m in boxes if m[4] > 800] == []
    page = next(m for m in measured if m[0] == "PAGE")
    assert page[2] <= page[3], page
    # The control: without our stylesheet the same page does overflow, so the probe works.
    from runbook.engine.report_summary import WRAP_CSS

    unwrapped = _measure(chromium, html.replace(WRAP_CSS, ""), tmp_path / "control")
    assert any(m[2] > m[3] + 1 for m in unwrapped if m[0] != "PAGE"), unwrapped


@pytest.mark.browser
def test_the_printed_pdf_of_a_long_line_report_is_written(tmp_path: Path) -> None:
    _chromium()
    destination = tmp_path / "report.pdf"
    html = render_html(_long_lines_notebook(), run=a_run(), events=cell_events(), record=a_record())
    render_pdf(html, destination)
    assert destination.read_bytes().startswith(b"%PDF")
