"""List pages come a page at a time, newest first, with links to older and newer pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.api.pages.paging import PAGE_SIZE
from runbook.model.repository import Repository
from runbook.model.roles import Role
from tests.api.conftest import Records, Tokens, record_run
from tests.api.pages.test_page_permissions import sign_in


def _runs_on(html: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/ui/runs/([^"]+)">', html)


def test_the_runs_page_is_paginated_newest_first(
    repo: Repository, records: Records, tokens: Tokens, session: Session
) -> None:
    made = [record_run(session, records.plan) for _ in range(PAGE_SIZE + 5)]
    with TestClient(create_app(repo)) as client:
        sign_in(client, tokens.by_role[Role.VIEWER])
        first = client.get("/ui/runs")
        assert len(_runs_on(first.text)) == PAGE_SIZE
        assert 'href="?page=2"' in first.text and "Newer" not in first.text
        second = client.get("/ui/runs?page=2")
        shown = _runs_on(first.text) + _runs_on(second.text)
        assert sorted(shown) == sorted([*made, records.run_id])  # every run once
        assert "Older" not in second.text and 'href="?page=1"' in second.text
        assert client.get("/ui/runs?page=0").status_code == 422
