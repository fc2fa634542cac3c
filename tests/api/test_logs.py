"""The service's JSON log lines."""

from __future__ import annotations

import json
import logging

from runbook.api.logs import JsonFormatter


def test_a_record_is_one_json_line_with_its_fields() -> None:
    record = logging.LogRecord("runbook.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.fields = {"request_id": "r-1", "status": 200}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "GET /x" and parsed["level"] == "info"
    assert (parsed["request_id"], parsed["status"]) == ("r-1", 200)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    parsed = json.loads(JsonFormatter().format(failing))
    assert "ValueError: boom" in parsed["error"]
