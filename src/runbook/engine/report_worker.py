"""A process that renders a run's reports, warmed up while the run executes.

``python -m runbook.engine.report_worker`` imports nbconvert and compiles its templates at
once, on another core than the run's, then reads one JSON request on stdin (the executed
notebook, the run and its cell events, the plan and approval record, the formats), writes
the reports and answers with their paths on stdout. An empty request means the run did not
happen: it exits quietly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from runbook.engine.report import prepare_html_renderer, write_run_reports
from runbook.model.report_record import record_from_json
from runbook.model.run import event_from_json, run_from_json


def main() -> int:
    """Warm up, then serve one request; answers ``{"reports": [...], "warnings": [...]}``."""
    prepare_html_renderer()
    text = sys.stdin.read()
    if not text.strip():
        return 0
    request = json.loads(text)
    run = run_from_json(request["run"])
    events = [event_from_json(e) for e in request["events"]]
    notebook = nbformat.from_dict(request["notebook"])
    record = record_from_json(request["record"]) if request.get("record") else None
    written, warnings = write_run_reports(
        Path(request["root"]), run, events, notebook, request["formats"], record
    )
    json.dump({"reports": [str(p) for p in written], "warnings": warnings}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
