"""Starting playbook runs (and retries) in the background, as the service does: the run is
refused or recorded before the caller is answered, then runs on in its own thread."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from runbook.model.playbooks.playbook_run import PlaybookRun, TargetRecord
from runbook.model.repository import Repository
from runbook.orchestrate.background import Announce, Background
from runbook.orchestrate.playbooks.fleet import PlaybookRequest, retry_playbook, start_playbook
from runbook.orchestrate.playbooks.fleet_runner import FleetListener


class _Announcing(FleetListener):
    """Tells the launcher the run is recorded (its targets PENDING), once."""

    def __init__(self, announce: Announce[PlaybookRun]) -> None:
        self.announce = announce

    def run_started(self, run: PlaybookRun, targets: list[TargetRecord]) -> None:
        self.announce(run)


def launch_playbook(
    background: Background,
    sessions: sessionmaker[Session],
    repository: Repository,
    request: PlaybookRequest,
) -> PlaybookRun:
    """Start ``request`` in the background; the run as recorded when its targets are."""

    def work(announce: Announce[PlaybookRun]) -> None:
        request.listener = _Announcing(announce)
        start_playbook(sessions, repository, request)

    name = request.definition.name if request.definition else f"plan {request.plan_id}"
    return background.launch(f"playbook {name}", work)


def launch_retry(
    background: Background,
    sessions: sessionmaker[Session],
    repository: Repository,
    run_id: str,
    started_by: str,
    *,
    yes: bool = False,
) -> PlaybookRun:
    """Retry the FAILED targets of ``run_id`` in the background; the new run as recorded."""

    def work(announce: Announce[PlaybookRun]) -> None:
        retry_playbook(
            sessions, repository, run_id, started_by, yes=yes, listener=_Announcing(announce)
        )

    return background.launch(f"retry of {run_id}", work)
