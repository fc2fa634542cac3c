"""Signed reviews on real SSH keys made by ssh-keygen: who may approve is a key, not a flag."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from runbook.errors import ReviewRequiredError, SelfReviewError, SignatureError
from runbook.model.plan import Plan
from runbook.model.repository import Repository, find_repository
from runbook.model.review import IdentityKind, Review, Verdict, signed_message
from runbook.orchestrate.planning import ensure_runnable, plan_readiness, plan_runbook
from runbook.orchestrate.reviewing import SignedVerdict, review_plan
from runbook.orchestrate.ssh_signatures import SigningKey, sign
from runbook.store.tables import ReviewRow
from tests.orchestrate.test_planning import make_runbook


def configure(root: Path, review: str) -> Repository:
    """The repository at ``root`` with ``review`` in place of its ``[review]`` table's keys."""
    config = root / "runbook.toml"
    head, _, rest = config.read_text().partition("[review]\n")
    rest = rest[rest.index("\n[") :]  # the next table
    config.write_text(f"{head}[review]\n{review}\n{rest}")
    return find_repository(root)  # settings are read with the repository


@dataclass(frozen=True)
class Keys:
    """Private key files by name; alice, bob and carol are listed, eve is not."""

    folder: Path

    def __getitem__(self, name: str) -> SigningKey:
        return SigningKey(name, path=self.folder / name)


def make_keys(folder: Path, repo_root: Path, listed: tuple[str, ...]) -> Keys:
    folder.mkdir(exist_ok=True)
    for name in ("alice", "bob", "carol", "eve"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(folder / name)],
            check=True,
            timeout=60,
        )
    lines = [f"{n}@example.org {(folder / f'{n}.pub').read_text().strip()}" for n in listed]
    (repo_root / "allowed_signers").write_text("\n".join(lines) + "\n")
    return Keys(folder)


@pytest.fixture
def signed_repo(repo: Repository) -> Repository:
    return configure(repo.root, 'require = "all"\nsigned = true')


@pytest.fixture
def keys(signed_repo: Repository, tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys", signed_repo.root, ("alice", "bob", "carol"))


@pytest.fixture
def plan(signed_repo: Repository, session: Session) -> Iterator[Plan]:
    runbook = make_runbook(signed_repo)
    yield plan_runbook(session, signed_repo, runbook, {"host": "db1"}, planner="alice@example.org")


def approve(
    session: Session, repo: Repository, plan: Plan, key: SigningKey, *, claimed: str = "x"
) -> Review:
    return review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer=claimed, key=key)


def test_a_listed_key_approves_and_its_principal_is_the_reviewer(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    review = approve(session, signed_repo, plan, keys["bob"], claimed="mallory")
    assert review.reviewer == "bob@example.org"  # the key's name, not the claimed one
    assert review.identity_kind is IdentityKind.SSH_KEY
    assert (review.signer_key or "").startswith("SHA256:")
    assert ensure_runnable(session, signed_repo, plan.id).id == plan.id


def test_an_unsigned_approval_is_refused(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    with pytest.raises(SignatureError, match="requires signed reviews"):
        review_plan(session, signed_repo, plan.id, Verdict.APPROVED, reviewer="bob@example.org")


def test_an_unsigned_approval_in_the_store_does_not_count(
    repo: Repository, session: Session, tmp_path: Path
) -> None:
    # Approved while reviews were claimed; then the repository turns signing on.
    claimed = configure(repo.root, 'require = "all"')
    plan = plan_runbook(session, claimed, make_runbook(claimed), {"host": "db1"}, planner="a")
    review_plan(session, claimed, plan.id, Verdict.APPROVED, reviewer="bob")
    signing = configure(repo.root, 'require = "all"\nsigned = true')
    make_keys(tmp_path / "keys", repo.root, ("bob",))
    with pytest.raises(ReviewRequiredError, match="no valid signature"):
        ensure_runnable(session, signing, plan.id)


def test_a_key_not_in_allowed_signers_is_refused(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    with pytest.raises(SignatureError, match="not listed in allowed_signers"):
        approve(session, signed_repo, plan, keys["eve"])


def test_a_signature_over_another_plans_hash_is_refused(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    other = plan_runbook(
        session, signed_repo, make_runbook(signed_repo), {"host": "db2"}, planner="alice"
    )
    message = signed_message(other.id, other.sha256, Verdict.APPROVED, "n-1")
    stolen = SignedVerdict("n-1", sign(message, keys["bob"]))
    with pytest.raises(SignatureError, match=r"not bob@example\.org's approved verdict"):
        review_plan(session, signed_repo, plan.id, Verdict.APPROVED, reviewer="bob", signed=stolen)
    # Nor does an approval's signature pass for a rejection, or the reverse.
    mine = SignedVerdict(
        "n-2", sign(signed_message(plan.id, plan.sha256, Verdict.REJECTED, "n-2"), keys["bob"])
    )
    with pytest.raises(SignatureError, match="approved verdict"):
        review_plan(session, signed_repo, plan.id, Verdict.APPROVED, reviewer="bob", signed=mine)


def test_a_replayed_signature_is_refused(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    first = approve(session, signed_repo, plan, keys["bob"])
    assert first.nonce is not None and first.signature is not None
    replay = SignedVerdict(first.nonce, first.signature)
    with pytest.raises(SignatureError, match="already recorded"):
        review_plan(session, signed_repo, plan.id, Verdict.APPROVED, reviewer="bob", signed=replay)


def test_the_planners_own_key_is_refused_under_any_spelling(
    signed_repo: Repository, session: Session, keys: Keys
) -> None:
    plan = plan_runbook(
        session,
        signed_repo,
        make_runbook(signed_repo),
        {"host": "db1"},
        planner="ALICE@example.org ",
    )
    with pytest.raises(SelfReviewError):
        approve(session, signed_repo, plan, keys["alice"], claimed="not-alice")


def test_removing_a_key_from_allowed_signers_withdraws_its_approvals(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    approve(session, signed_repo, plan, keys["bob"])
    assert plan_readiness(session, signed_repo, plan).ready
    signers = signed_repo.root / "allowed_signers"
    kept = [line for line in signers.read_text().splitlines(True) if "bob@" not in line]
    signers.write_text("".join(kept))
    readiness = plan_readiness(session, signed_repo, plan)
    assert not readiness.ready and "no valid signature" in readiness.reason


def test_a_signature_edited_in_the_store_no_longer_counts(
    signed_repo: Repository, session: Session, keys: Keys, plan: Plan
) -> None:
    approve(session, signed_repo, plan, keys["bob"])
    session.execute(update(ReviewRow).values(nonce="forged"))
    session.commit()
    assert not plan_readiness(session, signed_repo, plan).ready


def test_where_reviews_are_signed_a_standing_approval_is_signed_by_a_listed_key(
    signed_repo: Repository, session: Session, keys: Keys
) -> None:
    from runbook.model.standing import StandingApproval, parse_bound
    from runbook.orchestrate.standing_approvals import approve_standing
    from runbook.store.audit import list_events

    make_runbook(signed_repo, tags=["critical"])
    bounds = dict([parse_bound("host=db1|db2"), parse_bound("port=*")])

    def grant(key: SigningKey | None) -> StandingApproval:
        return approve_standing(
            session,
            signed_repo,
            "restart",
            reviewer="mallory",
            callers=["workflow:nightly"],
            bounds=bounds,
            lifetime=timedelta(days=7),
            key=key,
        )

    with pytest.raises(SignatureError, match="a standing approval is signed too"):
        grant(None)  # --as alone grants nothing here
    with pytest.raises(SignatureError, match="not listed in allowed_signers"):
        grant(keys["eve"])
    approval = grant(keys["bob"])
    assert approval.approved_by == "bob@example.org" and approval.identity_kind == "ssh-key"
    (event,) = [e for e in list_events(session) if e.kind == "standing.approved"]
    assert event.actor == "bob@example.org"
    assert event.payload["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert event.payload["signer_key"].startswith("SHA256:")
