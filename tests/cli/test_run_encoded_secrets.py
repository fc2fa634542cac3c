"""A secret that leaves a cell encoded (Basic auth, a URL) is masked everywhere a run writes."""

from __future__ import annotations

import base64
import sqlite3
from urllib.parse import quote

import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.test_run import plan, run_json

pytestmark = pytest.mark.kernel

# A slash: urllib.parse.quote keeps it by default, so the quoted form differs from quote(safe="").
CANARY = "Pq7/canary+secret=Yz2"


def _encoded_forms() -> list[str]:
    return [
        CANARY,
        quote(CANARY),
        # "bob:" puts the secret one byte into a base64 group: no aligned form matches.
        base64.b64encode(f"bob:{CANARY}".encode()).decode(),
        base64.b64encode(f"al:{CANARY}".encode()).decode(),
    ]


def test_encoded_secrets_never_reach_disk_or_the_terminal(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "encoded.ipynb",
        [
            ("code", "password = ''", ["parameters"]),
            (
                "code",
                "import base64, urllib.parse\n"
                "print('Authorization: Basic', base64.b64encode(('bob:' + password).encode())"
                ".decode())\n"
                "print(base64.b64encode(('al:' + password).encode()).decode())\n"
                "print('https://db/?p=' + urllib.parse.quote(password))",
                [],
            ),
        ],
        parameters={"password": {"type": "str", "secret": True}},
    )
    code, outcome, err = run_json(
        repo, plan(repo, "encoded", "-p", "password", "env:DB_PASSWORD"), "--yes",
        DB_PASSWORD=CANARY,
    )  # fmt: skip
    assert code == 0, err
    executed = (repo.root / str(outcome["notebook"])).read_text()
    assert "Authorization: Basic" in executed and "***" in executed
    with sqlite3.connect(repo.state_dir / "runbook.db") as db:
        dump = "\n".join(db.iterdump())
    files = [p for p in [*repo.runs_dir.rglob("*"), *repo.state_dir.rglob("*")] if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for form in _encoded_forms():
        assert form not in err and form not in dump, form
        for path in files:
            assert form.encode() not in path.read_bytes(), (form, path)
