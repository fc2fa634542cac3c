"""Starting playbook runs (and retries) in the background, as the service does: the run is
refused or recorded before the caller is answered, then runs on in its own thread."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from runbook.model.playbooks.playbook_run import PlaybookRun, TargetRecord
from runbook.model.repository import Repository
from runbook.orchestrate.background import Announce, Background
from runbook.orchestrate.playbooks.fleet import PlaybookRequest, retry_playbook, start_playbook
from runbook.orchestrate.playbooks.fleet_runner import FleetListener
from runbook.orchestrate.playbooks.playbook_history import playbook_status
from runbook.orchestrate.run_artifacts import publish_runs
from runbook.store.artifacts import ArtifactStore


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
    artifacts: ArtifactStore | None = None,
) -> PlaybookRun:
    """Start ``request`` in the background; the run as recorded when its targets are. The
    runs of its runbook steps go to ``artifacts`` once it ended."""

    def work(announce: Announce[PlaybookRun]) -> None:
        request.listener = _Announcing(announce)
        run = start_playbook(sessions, repository, request)
        _publish(sessions, repository, run.id, artifacts)

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
    artifacts: ArtifactStore | None = None,
) -> PlaybookRun:
    """Retry the FAILED targets of ``run_id`` in the background; the new run as recorded."""

    def work(announce: Announce[PlaybookRun]) -> None:
        run = retry_playbook(
            sessions, repository, run_id, started_by, yes=yes, listener=_Announcing(announce)
        )
        _publish(sessions, repository, run.id, artifacts)

    return background.launch(f"retry of {run_id}", work)


def _publish(
    sessions: sessionmaker[Session],
    repository: Repository,
    run_id: str,
    artifacts: ArtifactStore | None,
) -> None:
    """The runs of the runbook steps of playbook run ``run_id`` (named in their results)."""
    if artifacts is None:
        return
    with sessions() as session:
        _, targets = playbook_status(session, run_id)
    steps = (result.get("run") for target in targets for result in target.results)
    publish_runs(artifacts, repository, (r if isinstance(r, str) else None for r in steps))
