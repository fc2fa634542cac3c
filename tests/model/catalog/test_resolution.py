"""The one resolution order: service over tag over platform; override, extend, suppress."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from runbook.model.catalog.catalog import Catalog
from runbook.model.catalog.catalog_parse import parse_catalog_files
from runbook.model.catalog.resolution import find_service, resolve


def catalog_of(document: dict[str, Any]) -> Catalog:
    catalog, errors = parse_catalog_files([("catalog/all.yml", yaml.safe_dump(document))])
    assert errors == []
    return catalog


BASE: dict[str, Any] = {
    "services": [
        {"name": "checkout", "team": "payments", "tags": ["java"]},
        {"name": "search", "tags": ["java"], "labels": {"app": "search", "env": "prod"}},
        {"name": "billing"},
    ],
    "error_codes": [{"code": "E-DISK", "title": "Disk almost full", "severity": "critical"}],
    "procedures": [
        {"name": "disk-platform", "code": "E-DISK", "runbook": "clean-disk", "policy": "suggest"},
        {"name": "any-db", "code_pattern": "E-DB-.*", "runbook": "db", "for": "*"},
    ],
}


def with_rules(*rules: dict[str, Any]) -> Catalog:
    return catalog_of({**BASE, "procedures": [*BASE["procedures"], *rules]})


def test_the_platform_answers_every_service_without_a_rule_of_its_own() -> None:
    catalog = with_rules()
    for name in ("checkout", "search", "billing"):
        found = resolve(catalog, catalog.services[name], "E-DISK")
        assert found.winner is not None and found.winner.name == "disk-platform"
    pattern = resolve(catalog, catalog.services["billing"], "E-DB-LOCK")
    assert pattern.winner is not None and pattern.winner.name == "any-db"
    assert resolve(catalog, catalog.services["billing"], "E-NOPE").is_gap


def test_a_service_rule_overrides_a_tag_rule_which_overrides_the_platform() -> None:
    catalog = with_rules(
        {"name": "disk-java", "code": "E-DISK", "for": "tag:java", "runbook": "java-disk"},
        {"name": "disk-checkout", "code": "E-DISK", "for": "service:checkout", "runbook": "x"},
    )
    checkout = resolve(catalog, catalog.services["checkout"], "E-DISK")
    assert checkout.winner is not None and checkout.winner.name == "disk-checkout"
    verdicts = {c.procedure.name: c.verdict for c in checkout.candidates}
    assert verdicts["disk-java"] == "outranked by disk-checkout (a service rule beats a tag rule)"
    assert verdicts["disk-platform"].startswith("outranked by disk-checkout")
    search = resolve(catalog, catalog.services["search"], "E-DISK")
    assert search.winner is not None and search.winner.name == "disk-java"
    billing = resolve(catalog, catalog.services["billing"], "E-DISK")
    assert billing.winner is not None and billing.winner.name == "disk-platform"


def test_extend_keeps_the_platform_procedure_and_adds_the_service_one() -> None:
    catalog = with_rules(
        {
            "name": "disk-checkout-extra",
            "code": "E-DISK",
            "for": "service:checkout",
            "mode": "extend",
            "runbook": "rotate-logs",
        }
    )
    found = resolve(catalog, catalog.services["checkout"], "E-DISK")
    assert found.winner is not None and found.winner.name == "disk-platform"
    assert [p.name for p in found.also] == ["disk-checkout-extra"]


def test_suppress_leaves_no_procedure_and_is_not_a_gap() -> None:
    catalog = with_rules(
        {"name": "no-disk", "code": "E-DISK", "for": "service:billing", "mode": "suppress"}
    )
    found = resolve(catalog, catalog.services["billing"], "E-DISK")
    assert found.winner is None and not found.is_gap
    assert found.suppressed_by is not None and found.suppressed_by.name == "no-disk"
    verdicts = {c.procedure.name: c.verdict for c in found.candidates}
    assert verdicts["disk-platform"].startswith("suppressed by no-disk")


def test_exact_code_beats_a_pattern_and_matchers_decide_within_a_scope() -> None:
    catalog = with_rules(
        {"name": "db-lock", "code": "E-DB-LOCK", "runbook": "unlock"},
        {
            "name": "db-lock-prod",
            "code": "E-DB-LOCK",
            "match": {"env": "~prod|live"},
            "runbook": "unlock-prod",
        },
    )
    service = catalog.services["billing"]
    prod = resolve(catalog, service, "E-DB-LOCK", {"env": "prod"})
    assert prod.winner is not None and prod.winner.name == "db-lock-prod"
    dev = resolve(catalog, service, "E-DB-LOCK", {"env": "dev"})
    assert dev.winner is not None and dev.winner.name == "db-lock"
    verdicts = {c.procedure.name: c.verdict for c in dev.candidates}
    assert verdicts["db-lock-prod"] == "out: the alert's labels do not match env=~prod|live"
    assert verdicts["any-db"] == "outranked by db-lock (an exact code beats a pattern)"


def test_services_are_found_by_their_identifying_labels() -> None:
    catalog = with_rules()
    assert find_service(catalog, {"service": "checkout"}) == catalog.services["checkout"]
    assert find_service(catalog, {"app": "search", "env": "prod"}) == catalog.services["search"]
    assert find_service(catalog, {"app": "search"}) is None
    assert find_service(catalog, {"service": "unknown"}) is None


@pytest.mark.parametrize(
    ("rule", "where", "reason"),
    [
        ({"name": "a", "runbook": "r"}, "procedures[2]", "names one of code"),
        (
            {"name": "a", "code": "X", "runbook": "r", "for": "team:x"},
            "procedures[2].for",
            "expected",
        ),
        (
            {"name": "a", "code": "X", "runbook": "r", "policy": "yolo"},
            "procedures[2].policy",
            "not one of",
        ),
        (
            {
                "name": "a",
                "code": "X",
                "runbook": "r",
                "parameters": {"h": "{{ labels.x | upper }}"},
            },
            "procedures[2].parameters.h",
            "not a dotted name",
        ),
        (
            {
                "name": "a",
                "code": "X",
                "runbook": "r",
                "parameters": {"h": "{{ __import__('os') }}"},
            },
            "procedures[2].parameters.h",
            "no expressions",
        ),
        (
            {"name": "a", "code": "X", "for": "service:nope", "runbook": "r"},
            "procedures[2].for",
            "no service",
        ),
        (
            {"name": "disk-platform", "code": "X", "runbook": "r"},
            "procedures[2].name",
            "already defined",
        ),
        (
            {"name": "a", "code_pattern": "(", "runbook": "r"},
            "procedures[2].code_pattern",
            "regular",
        ),
    ],
)
def test_every_error_names_its_file_and_yaml_path(
    rule: dict[str, Any], where: str, reason: str
) -> None:
    text = yaml.safe_dump({**BASE, "procedures": [*BASE["procedures"], rule]})
    _, errors = parse_catalog_files([("catalog/all.yml", text)])
    assert len(errors) == 1
    assert errors[0].where == f"catalog/all.yml: {where}"
    assert reason in errors[0].reason
