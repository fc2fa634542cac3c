"""Signed standing approvals over the API: where reviews must be signed, a reviewer drafts
the approval, signs its message with their own SSH key (real keys from ssh-keygen) and sends
it back; the server checks the key, the caller, the content and the draft's age."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.orchestrate.ssh_signatures import sign
from tests.api.service import Service, service_on, write_restart
from tests.orchestrate.test_signed_reviews import Keys, configure, make_keys

BODY: dict[str, Any] = {
    "runbook": "restart",
    "callers": ["playbook:web"],
    "bounds": {"service": "db|web"},
    "expires": "30d",
}


@pytest.fixture
def keys(repo: Repository, tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys", repo.root, ("alice", "bob", "carol"))


@pytest.fixture
def service(repo: Repository, session: Session, keys: Keys) -> Iterator[Service]:
    signed = configure(repo.root, "signed = true")
    write_restart(signed)
    with service_on(signed, session) as made:
        yield made


def drafted_and_signed(service: Service, keys: Keys, signer: str) -> dict[str, Any]:
    """What a client sends: the draft's id and moment, and its message signed by ``signer``."""
    draft = service.post("bob", "/standing/draft", BODY)
    assert draft.status_code == 200, draft.text
    shown = draft.json()
    assert shown["namespace"] == "runbook-review" and shown["id"] in shown["message"]
    signature = sign(shown["message"], keys[signer])
    return {**BODY, "id": shown["id"], "approved_at": shown["approved_at"], "signature": signature}


def test_a_drafted_approval_signed_with_the_callers_key_is_granted(
    service: Service, keys: Keys
) -> None:
    unsigned = service.post("bob", "/standing", BODY)
    assert unsigned.status_code == 403 and unsigned.json()["error"]["kind"] == "SignatureError"
    assert service.get("viewer", "/standing").json() == []  # a draft records nothing

    carols = service.post("bob", "/standing", drafted_and_signed(service, keys, "carol"))
    assert carols.status_code == 403 and "sign with your own key" in carols.text
    unlisted = service.post("bob", "/standing", drafted_and_signed(service, keys, "eve"))
    assert unlisted.status_code == 403 and "not listed" in unlisted.text

    body = drafted_and_signed(service, keys, "bob")
    granted = service.post("bob", "/standing", body)
    assert granted.status_code == 201, granted.text
    approval = granted.json()
    assert (approval["id"], approval["approved_by"]) == (body["id"], "bob@example.org")
    assert approval["identity_kind"] == "ssh-key"
    replay = service.post("bob", "/standing", body)
    assert replay.status_code == 403 and "replay" in replay.text
    assert [a["id"] for a in service.get("viewer", "/standing").json()] == [body["id"]]
    assert service.get("bob", "/audit/verify").status_code == 200  # its event holds the signature


def test_what_was_signed_is_what_is_granted(service: Service, keys: Keys) -> None:
    body = drafted_and_signed(service, keys, "bob")
    wider = service.post("bob", "/standing", {**body, "bounds": {"service": "*"}})
    assert wider.status_code == 403 and "change since it was drafted" in wider.text
    longer = service.post("bob", "/standing", {**body, "expires": "300d"})
    assert longer.status_code == 403
    # Alice holds the draft and bob's signature: they are bob's, not hers to hand in.
    stolen = service.post("alice-admin", "/standing", body)
    assert stolen.status_code == 403 and "sign with your own key" in stolen.text
    assert service.get("viewer", "/standing").json() == []


def test_a_stale_draft_or_half_a_signature_is_refused(service: Service, keys: Keys) -> None:
    body = drafted_and_signed(service, keys, "bob")
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    stale = service.post("bob", "/standing", {**body, "approved_at": old})
    assert stale.status_code == 403 and "draft it again" in stale.text
    naive = service.post("bob", "/standing", {**body, "approved_at": "2026-12-04T10:00:00"})
    assert naive.status_code == 403 and "time zone" in naive.text
    forged_id = service.post("bob", "/standing", {**body, "id": "mine"})
    assert forged_id.status_code == 403 and "drafted standing approval" in forged_id.text
    half = {key: value for key, value in body.items() if key != "signature"}
    partial = service.post("bob", "/standing", half)
    assert partial.status_code in (400, 422) and "body.signature" in partial.text
    assert service.get("viewer", "/standing").json() == []
