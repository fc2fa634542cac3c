"""`runbook catalog`: validate, import, lookup, why, runbook-url, receive, gaps, pause."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from typing import Any

from runbook.model.repository import Repository
from tests.conftest import Result
from tests.orchestrate.catalog.catalog_setup import CATALOG, write_catalog, write_clean_runbook

Cli = Callable[..., Result]


def setup(repo: Repository, catalog: dict[str, Any] | None = None) -> None:
    write_clean_runbook(repo)
    write_catalog(repo, catalog)


def test_validate_names_every_error_by_file_and_yaml_path(run_cli: Cli, repo: Repository) -> None:
    broken = copy.deepcopy(CATALOG)
    broken["procedures"][0]["runbook"] = "missing"
    broken["procedures"][1]["parameters"] = {"hots": "{{ labels.instance }}"}
    setup(repo, broken)
    result = run_cli("catalog", "validate")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("catalog/catalog.yml: procedures[0].runbook: ")
    assert "missing" in lines[0]
    assert lines[1] == (
        "catalog/catalog.yml: procedures[1].parameters.hots: clean declares no parameter "
        "'hots' (it declares: host)"
    )
    refused = run_cli("catalog", "import")
    assert refused.code == 1 and "(and 1 more; see `runbook catalog validate`)" in refused.err


def test_import_records_the_git_commit_and_is_idempotent(run_cli: Cli, repo: Repository) -> None:
    setup(repo)
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], cwd=repo.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo.root, check=True)
    subprocess.run([*git, "commit", "-qm", "catalog"], cwd=repo.root, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True, text=True, check=True
    ).stdout.strip()
    first = json.loads(run_cli("catalog", "import", "--json").out)
    assert first["created"] and first["revision"] == 1
    assert first["git_commit"] == head and first["dirty"] is False
    again = run_cli("catalog", "import")
    assert again.out.startswith("catalog: unchanged: identical to revision 1")


def test_lookup_and_why(run_cli: Cli, repo: Repository) -> None:
    setup(repo)
    assert run_cli("catalog", "import").code == 0
    found = json.loads(run_cli("catalog", "lookup", "checkout", "E-DISK", "--json").out)
    assert found["procedure"]["name"] == "disk-checkout" and found["procedure"]["policy"] == "auto"
    assert found["error_code"]["title"] == "Disk almost full"
    platform = run_cli("catalog", "lookup", "billing", "E-DISK")
    assert "billing E-DISK: disk-platform → clean (manual)" in platform.out
    why = run_cli("catalog", "why", "checkout", "E-DISK")
    assert why.code == 0
    assert why.out.splitlines()[1:] == [
        "  1. disk-checkout (service:checkout): the answer (the service checkout's own rule)",
        "  2. disk-platform (*): outranked by disk-checkout (a service rule beats a platform rule)",
        "answer: disk-checkout",
    ]
    as_json = json.loads(run_cli("catalog", "why", "checkout", "E-DISK", "--json").out)
    assert as_json["winner"] == "disk-checkout" and len(as_json["candidates"]) == 2
    unknown = run_cli("catalog", "lookup", "nobody", "E-DISK")
    assert unknown.code == 2 and unknown.err.count("\n") == 1


def test_runbook_url_needs_the_base_url(run_cli: Cli, repo: Repository) -> None:
    missing = run_cli("catalog", "runbook-url", "checkout", "E-DISK")
    assert missing.code == 1 and "[catalog] base_url" in missing.err
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text() + '\n[catalog]\nbase_url = "https://rb.example/"\n')
    url = run_cli("catalog", "runbook-url", "checkout", "E DISK")
    assert url.out == "https://rb.example/catalog/checkout/E%20DISK\n"


def test_receive_a_payload_then_gaps_and_alerts(run_cli: Cli, repo: Repository) -> None:
    setup(repo)
    assert run_cli("catalog", "import").code == 0
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text() + '\n[catalog]\nbase_url = "https://rb.example"\n')
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"service": "billing", "alertname": "DiskFull", "instance": "web3"},
                "annotations": {"runbook_url": "https://rb.example/catalog/billing/E-DISK"},
                "startsAt": "2026-12-04T01:00:00Z",
                "fingerprint": "a1",
            },
            {
                "status": "firing",
                "labels": {"service": "ghost", "alertname": "Boo"},
                "startsAt": "2026-12-04T01:00:00Z",
                "fingerprint": "a2",
            },
        ],
    }
    (repo.root / "payload.json").write_text(json.dumps(payload))
    received = json.loads(
        run_cli("catalog", "receive", "alertmanager", "payload.json", "--json").out
    )
    assert [r["action"] for r in received] == ["manual", "gap"]
    assert received[0]["detail"] == "disk-platform: run clean with host=web3"  # via runbook_url
    again = run_cli("catalog", "receive", "alertmanager", "payload.json")
    assert "(already received)" in again.out
    gaps = json.loads(run_cli("catalog", "gaps", "--json").out)
    assert [g["fingerprint"] for g in gaps] == ["a2"]
    assert len(json.loads(run_cli("catalog", "alerts", "--json").out)) == 2
    bad = repo.root / "bad.json"
    bad.write_text(json.dumps({"version": "4", "alerts": [{"status": "firing"}]}))
    refused = run_cli("catalog", "receive", "alertmanager", "bad.json")
    assert refused.code == 2
    assert (
        refused.err
        == "runbook: error: alert payload: alerts[0].startsAt: must be an RFC 3339 timestamp\n"
    )


def test_pause_and_resume(run_cli: Cli, repo: Repository) -> None:
    setup(repo)
    assert run_cli("catalog", "import").code == 0
    assert run_cli("catalog", "pause", "--reason", "drill").code == 0
    assert json.loads(run_cli("catalog", "list", "--json").out)["paused"] is True
    assert run_cli("catalog", "resume").code == 0
    listed = json.loads(run_cli("catalog", "list", "--json").out)
    assert listed["paused"] is False and len(listed["procedures"]) == 2
    shown = json.loads(run_cli("catalog", "show", "checkout", "--json").out)
    assert [p["name"] for p in shown["procedures"]] == ["disk-platform", "disk-checkout"]


def test_a_yaml_error_is_one_line(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "catalog" / "bad.yml").write_text("services: [\n")
    result = run_cli("catalog", "validate")
    assert result.code == 1 and result.out.startswith("catalog/bad.yml:")
