"""The service's log: one JSON object per line on standard error, for every logger.

A request's line (``runbook.access``, see :mod:`runbook.api.middleware`) carries its fields
at the top level (request id, method, route, status, milliseconds, peer, user), so a log
shipper can index them; uvicorn's own access log is replaced by it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, its ``fields``, any error."""

    def format(self, record: logging.LogRecord) -> str:
        """The line for ``record``."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


#: uvicorn's ``log_config``: every logger through :class:`JsonFormatter` to standard error.
LOG_CONFIG: Final[dict[str, Any]] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": False},
    },
}
