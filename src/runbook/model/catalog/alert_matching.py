"""Which service and error code an alert is about, and the catalog entry's URL.

The code is read, in order, from: the error-code label (``[catalog] code_label``, default
``error_code``); the path of a ``runbook_url`` annotation that points at this service
(``<base_url>/catalog/<service>/<code>``); the ``alertname`` label. The service is the one
whose identifying labels the alert carries, else the one its ``runbook_url`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from runbook.errors import ConfigError
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.catalog.catalog import Catalog, Service
from runbook.model.catalog.resolution import find_service


def entry_url(base_url: str, service: str, code: str) -> str:
    """The URL of the catalog entry for (service, code), for ``runbook_url`` annotations."""
    if not base_url:
        raise ConfigError("runbook.toml [catalog] base_url", "is not set: it is the service's URL")
    return f"{base_url.rstrip('/')}/catalog/{quote(service, safe='')}/{quote(code, safe='')}"


def _from_url(url: str, base_url: str) -> tuple[str, str] | None:
    """``(service, code)`` of a runbook_url pointing at ``base_url``'s catalog, or None."""
    if not base_url or not url.startswith(base_url.rstrip("/") + "/catalog/"):
        return None
    rest = urlsplit(url).path[len(urlsplit(base_url).path.rstrip("/")) :]
    parts = [unquote(p) for p in rest.split("/") if p]
    if len(parts) == 3 and parts[0] == "catalog":
        return parts[1], parts[2]
    return None


@dataclass(frozen=True)
class Matched:
    """What an alert is about: its service (None: unknown) and code (None: none found)."""

    service: Service | None
    code: str | None
    code_from: str  # the label, "runbook_url" or "alertname"


def match_alert(catalog: Catalog, alert: Alert, *, code_label: str, base_url: str) -> Matched:
    """The service and code of ``alert`` (see the module docstring)."""
    pointed = _from_url(alert.annotations.get("runbook_url", ""), base_url)
    service = find_service(catalog, alert.labels)
    if service is None and pointed is not None:
        service = catalog.services.get(pointed[0])
    if alert.labels.get(code_label):
        return Matched(service, alert.labels[code_label], code_label)
    if pointed is not None:
        return Matched(service, pointed[1], "runbook_url")
    return Matched(service, alert.labels.get("alertname") or None, "alertname")
