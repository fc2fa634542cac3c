"""Signed verdicts over the API: a client signs with its own SSH key (real keys from
ssh-keygen), the server checks it against allowed_signers and the caller."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.model.review import Verdict, signed_message
from runbook.orchestrate.ssh_signatures import sign
from tests.api.service import Service, service_on, write_restart
from tests.orchestrate.test_signed_reviews import Keys, configure, make_keys


@pytest.fixture
def keys(repo: Repository, tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys", repo.root, ("alice", "bob", "carol"))


@pytest.fixture
def service(repo: Repository, session: Session, keys: Keys) -> Iterator[Service]:
    signed = configure(repo.root, 'require = "all"\nsigned = true')
    write_restart(signed)
    with service_on(signed, session) as made:
        yield made


def signed_body(plan: dict[str, str], keys: Keys, signer: str) -> dict[str, str]:
    """What a client sends: a verdict signed with ``signer``'s key over the plan's content."""
    nonce = secrets.token_hex(16)
    message = signed_message(plan["id"], plan["sha256"], Verdict.APPROVED, nonce)
    return {"verdict": "approve", "nonce": nonce, "signature": sign(message, keys[signer])}


def test_a_verdict_signed_with_the_callers_key(service: Service, keys: Keys) -> None:
    plan = service.post("alice", "/plans", {"runbook": "restart"}).json()
    path = f"/plans/{plan['id']}/reviews"
    unsigned = service.post("bob", path, {"verdict": "approve"})
    assert unsigned.status_code == 403
    assert unsigned.json()["error"]["kind"] == "SignatureError"
    # Carol's signature is carol's verdict: bob may not hand it in as his.
    carols = service.post("bob", path, signed_body(plan, keys, "carol"))
    assert carols.status_code == 403 and "sign with your own key" in carols.text
    unlisted = service.post("bob", path, signed_body(plan, keys, "eve"))
    assert unlisted.status_code == 403 and "not listed" in unlisted.text

    body = signed_body(plan, keys, "bob")
    approved = service.post("bob", path, body)
    assert approved.status_code == 201, approved.text
    review = approved.json()
    assert review["reviewer"] == "bob@example.org"
    assert review["identity_kind"] == "ssh-key" and review["signer_key"].startswith("SHA256:")
    assert service.get("viewer", f"/plans/{plan['id']}").json()["status"] == "approved"
    replay = service.post("bob", path, body)
    assert replay.status_code == 403 and "replay" in replay.text


def test_a_planner_signing_their_own_plan_is_refused(service: Service, keys: Keys) -> None:
    plan = service.post("alice-admin", "/plans", {"runbook": "restart"}).json()
    own = service.post(
        "alice-admin", f"/plans/{plan['id']}/reviews", signed_body(plan, keys, "alice")
    )
    assert own.status_code == 403
    assert own.json()["error"]["kind"] == "SelfReviewError"
