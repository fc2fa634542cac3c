"""``runbook token``: a secret shown once, stored only as its sha256, listed without it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.model.roles import PrincipalKind, Role
from runbook.orchestrate.tokens import token_principal
from runbook.store.token_rows import ApiTokenRow


def test_create_shows_the_secret_once_and_stores_its_hash(run_cli: Any, session: Session) -> None:
    created = run_cli("token", "create", "--user", "alice", "--role", "operator", "--json")
    assert created.code == 0, created.err
    token = json.loads(created.out)
    secret = token["secret"]
    assert secret.startswith("rbk_") and len(secret) > 40
    assert token["state"] == "active" and token["expires_at"] is None
    (row,) = session.scalars(select(ApiTokenRow)).all()
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps({c.name: str(getattr(row, c.name)) for c in row.__table__.c})
    session.rollback()  # SQLite: a reader's transaction would lock the CLI out
    listed = run_cli("token", "list", "--json")
    assert listed.code == 0, listed.err
    assert secret not in listed.out
    assert [t["id"] for t in json.loads(listed.out)] == [token["id"]]
    principal = token_principal(session, secret)
    assert (principal.user, principal.role, principal.kind) == (
        "alice",
        Role.OPERATOR,
        PrincipalKind.TOKEN,
    )


def test_plain_create_prints_only_the_secret_on_stdout(run_cli: Any) -> None:
    created = run_cli("token", "create", "--user", "bob", "--role", "viewer", "--expires", "30d")
    assert created.code == 0, created.err
    assert created.out.strip().startswith("rbk_") and "\n" not in created.out.strip()
    assert "shown only now" in created.err
    table = run_cli("token", "list")
    assert "bob" in table.out and "viewer" in table.out and created.out.strip() not in table.out


def test_revoke_stops_a_token_and_is_audited(run_cli: Any) -> None:
    token = json.loads(run_cli("token", "create", "--user", "c", "--role", "admin", "--json").out)
    revoked = run_cli("token", "revoke", token["id"], "--as", "root")
    assert revoked.code == 0, revoked.err
    (listed,) = json.loads(run_cli("token", "list", "--json").out)
    assert listed["state"] == "revoked" and listed["revoked_by"] == "root"
    kinds = [e["kind"] for e in json.loads(run_cli("audit", "log", "--json").out)]
    assert kinds == ["token.created", "token.revoked"]
    assert token["secret"] not in run_cli("audit", "log", "--json").out


def test_bad_inputs_are_one_line_each(run_cli: Any) -> None:
    unknown = run_cli("token", "revoke", "tok-nothing")
    assert unknown.code == 2 and "tok-nothing: no such API token" in unknown.err
    bad_role = run_cli("token", "create", "--user", "x", "--role", "root")
    assert bad_role.code == 2
    past = run_cli("token", "create", "--user", "x", "--role", "viewer", "--expires", "2001-01-01")
    assert past.code == 2 and "already past" in past.err
    garbage = run_cli("token", "create", "--user", "x", "--role", "viewer", "--expires", "soon")
    assert garbage.code == 2 and "neither a duration" in garbage.err
    blank = run_cli("token", "create", "--user", " ", "--role", "viewer")
    assert blank.code == 2 and len(blank.err.strip().splitlines()) == 1
    spaced = run_cli("token", "create", "--user", "x", "--role", "viewer", "--tag", "a b")
    assert spaced.code == 2 and "--tag" in spaced.err and len(spaced.err.strip().splitlines()) == 1
    assert json.loads(run_cli("token", "list", "--json").out) == []  # nothing half-made


def test_a_token_narrowed_by_tags_says_so(run_cli: Any) -> None:
    made = run_cli(
        "token", "create", "--user", "d", "--role", "operator", "--tag", "db", "--tag", "cache"
    )
    assert made.code == 0 and "on runbooks tagged cache, db" in made.err
    (listed,) = json.loads(run_cli("token", "list", "--json").out)
    assert listed["tags"] == ["cache", "db"]
    (event,) = json.loads(run_cli("audit", "log", "--json").out)
    assert event["payload"]["tags"] == ["cache", "db"]
