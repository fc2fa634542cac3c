"""Planning and reviewing: the use cases that bind a runbook to values and judge the result.

Each function takes an open store session and a repository and does one whole operation:
nothing is half-written. A plan file gets its name only once its record is committed, and
what a killed planner leaves is cleaned by the next plan or gc (see ``plan_files``).
"""

from __future__ import annotations

import copy
import secrets as random_source
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy.orm import Session

from runbook.errors import (
    PathEscapeError,
    PlanCodeChangedError,
    PlanFolderError,
    ReviewRequiredError,
)
from runbook.model.files import FileText
from runbook.model.forcing import FORCED_KEY, check_for_planning, plan_forced
from runbook.model.identity import check_identity
from runbook.model.injection import inject_parameters, render_parameters
from runbook.model.modules import Manifest
from runbook.model.notebook import load_runbook
from runbook.model.parameter_binding import Prompt, Warn, bind_parameters
from runbook.model.parameters import check_name
from runbook.model.plan import Plan
from runbook.model.readiness import Readiness, assess
from runbook.model.repository import Repository
from runbook.model.review import Review
from runbook.model.review_rules import RecordedRules
from runbook.model.templates import slugify
from runbook.model.working_dir import PLAN_CWD_KEY, choose_cwd, kernel_cwd, planned_cwd
from runbook.orchestrate.plan_code import code_changes, local_modules
from runbook.orchestrate.plan_store import PlanFile, intact_plan_file, read_plan_file
from runbook.orchestrate.plan_writing import PlanHeader, write_plan
from runbook.orchestrate.review_trust import counted_reviews, review_rules_now
from runbook.orchestrate.standing_approvals import (
    approving_standing,
    covering_plan,
    standing_still_holds,
)
from runbook.store.plans import get_plan, list_plans
from runbook.store.playbooks.playbook_runs import spending_playbook_run
from runbook.store.reviews import list_reviews, reviews_by_plan
from runbook.store.runs import spending_run
from runbook.typing import JsonValue, Notebook


def new_plan_id(title: str) -> str:
    """A short, readable, unique-enough plan id: ``<slug>-<6 hex>``."""
    try:
        slug = slugify(title)[:40].rstrip("-")
    except ValueError:
        slug = "plan"
    return f"{slug}-{random_source.token_hex(3)}"


def plan_runbook(
    session: Session,
    repository: Repository,
    runbook_path: Path,
    given: Mapping[str, object],
    *,
    planner: str,
    prompt: Prompt | None = None,
    now: datetime | None = None,
    as_given: bool = False,
    warn: Warn | None = None,
    cwd: str | None = None,
    cwd_base: Path | None = None,
    force: bool = False,
    caller: str | None = None,
    cover: str | None = None,
) -> Plan:
    """Bind a runbook to values, write the planned notebook and record the plan.

    With ``as_given`` the values are injected as they are, whatever the parameters cell
    declares, as papermill does: a workflow task's values come from its definition, not
    from an operator's typing (they are still rendered as literals only). ``warn`` hears
    what reading the runbook as nbclient does changed (``model.notebook_format``) and each
    value taken more loosely than a declared parameter would take it. The kernel will run in
    ``cwd`` (relative to ``cwd_base``), by default the runbook's own folder; the plan
    records it (see :mod:`runbook.model.working_dir`). A runbook with ``runbook check``
    errors raises CheckFailedError unless ``force``: the errors forced past are then
    recorded in the plan, which always needs a person's review (:mod:`runbook.model.forcing`).
    An unattended ``caller`` (``workflow:NAME``, ``playbook:NAME``) of a runbook that needs
    review gets its plan approved by a standing approval (never a forced one), or
    StandingRefusedError saying which bound failed; a runbook step of a reviewed playbook
    plan ``cover`` runs under that plan's approval instead, at the content it bound.

    The plan is nbformat 4.5, valid under nbformat's validator, whatever minor the runbook
    was saved in (``metadata.runbook.plan.nbformat`` records that one), and its sha256 is
    of the file as written and read back, so reading it again gives the same hash.
    """
    check_identity(planner, "planner")
    where = repository.relative(runbook_path)
    runbook = load_runbook(runbook_path, where)
    forced = check_for_planning(runbook, where, force=force)
    working_dir = choose_cwd(repository, runbook_path, cwd, base=cwd_base)
    if warn is not None:
        for line in runbook.warnings:
            warn(line)
    if as_given:
        values = {check_name(k, where): cast(JsonValue, v) for k, v in given.items()}
        secret_refs: dict[str, str] = {}
    else:
        values, secret_refs = bind_parameters(runbook, given, prompt=prompt, where=where, warn=warn)
    required = bool(forced) or repository.config.review.requires_review(runbook.meta.tags)
    modules = local_modules(repository)
    standing = None
    if cover is not None and required and not forced:
        standing = covering_plan(session, repository, runbook, cover)
    elif caller is not None and required and not forced:
        standing = approving_standing(
            session, repository, runbook, caller, {**values, **secret_refs}, now, modules
        ).id
    planned_at = now or datetime.now(UTC)
    plan_id = new_plan_id(runbook.meta.title)
    # Like papermill, inject nothing when there is nothing to bind: cell numbers stay the same.
    notebook = (
        inject_parameters(
            runbook.notebook,
            render_parameters(values, secret_refs, runbook.language),
            runbook.language,
        )
        if values or secret_refs
        else copy.deepcopy(runbook.notebook)
    )
    notebook.metadata.setdefault("runbook", {})["plan"] = {
        "id": plan_id,
        "runbook": where,
        "planned_by": planner,
        "planned_at": planned_at.isoformat(),
        "parameters": {**values, **secret_refs},
        PLAN_CWD_KEY: working_dir,
        # Inside the hashed content, so an approval covers the code the cells can import.
        "modules": modules,
        "nbformat": runbook.saved_as,
    }
    if forced:  # hashed with the rest: the reviewer sees it, and it cannot be dropped
        notebook.metadata.runbook.plan[FORCED_KEY] = forced
    return write_plan(
        session,
        repository,
        notebook,
        PlanHeader(
            id=plan_id,
            runbook_path=where,
            title=runbook.meta.title,
            parameters={**values, **secret_refs},
            planned_by=planner,
            planned_at=planned_at,
            review_required=required,
            review_rules=RecordedRules(
                tuple(runbook.meta.tags),
                repository.config.review.rules.requirements(runbook.meta.tags),
            ),
            standing_approval=standing,
        ),
    )


def plan_readiness(
    session: Session,
    repository: Repository,
    plan: Plan,
    actual_sha256: str | None = None,
    current_modules: Manifest | None = None,
    recorded: list[Review] | None = None,
) -> Readiness:
    """Whether ``plan`` may run now, judged from its file, its code, its policy and reviews.

    ``current_modules`` is the repository's module manifest and ``recorded`` the plan's
    reviews when the caller has them already (a listing judges many plans against one walk
    of the repository and one query of their reviews).
    """
    file = (
        PlanFile(None, actual_sha256)
        if actual_sha256
        else read_plan_file(session, repository, plan, fill_cache=False, notebook=False)
    )
    changes = code_changes(repository, plan, current_modules)
    if recorded is None:
        recorded = list_reviews(session, plan.id)
    reviews, unsigned = counted_reviews(repository, recorded)
    required, requirements = review_rules_now(repository, plan)
    # A forced plan needs a person's review, even if its record were edited to say otherwise.
    forced = bool(plan_forced(plan))
    required = required or forced
    lapsed = None
    if plan.standing_approval is not None and not forced:  # an unattended caller's plan
        lapsed = standing_still_holds(session, plan.standing_approval)
        requirements = requirements if lapsed else ()
    return assess(
        plan.sha256,
        file.sha256,
        required,
        reviews,
        changes,
        unreadable=file.problem,
        unsigned=unsigned,
        requirements=requirements,
        spent_by=_spending(session, plan.id) if required else None,
        lapsed=lapsed,
    )


def _spending(session: Session, plan_id: str) -> str | None:
    """The run (of a runbook, or of a playbook) that spent the plan's approval."""
    return spending_run(session, plan_id) or spending_playbook_run(session, plan_id)


def list_plan_readiness(
    session: Session,
    repository: Repository,
    *,
    runbook_path: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[Plan, Readiness]]:
    """Plans, newest first (optionally of one runbook), each with whether it may run now.

    One walk of the repository's modules and one query of reviews serve every plan listed.
    """
    plans = list_plans(session, runbook_path=runbook_path, limit=limit, offset=offset)
    modules = local_modules(repository)
    reviews = reviews_by_plan(session, [plan.id for plan in plans])
    return [
        (plan, plan_readiness(session, repository, plan, None, modules, reviews[plan.id]))
        for plan in plans
    ]


def ensure_runnable(session: Session, repository: Repository, plan_id: str) -> Plan:
    """Return the plan if it may run now; raise the PolicyError that says why not."""
    return load_runnable(session, repository, plan_id)[0]


def load_runnable(
    session: Session, repository: Repository, plan_id: str, already_read: FileText | None = None
) -> tuple[Plan, Notebook]:
    """The plan and the very notebook content that was verified, if it may run now.

    Reading once and running what was checked leaves no window in which the file could be
    swapped between the check and the run (``already_read``: see :func:`read_plan_file`).
    """
    plan = get_plan(session, plan_id)
    file = intact_plan_file(session, repository, plan, already_read)
    readiness = plan_readiness(session, repository, plan, file.sha256)
    if readiness.code_changes:
        raise PlanCodeChangedError(plan.id, list(readiness.code_changes))
    if not readiness.ready:
        raise ReviewRequiredError(plan.id, readiness.reason)
    # read_plan_file sets the notebook and its sha256 together; intact_plan_file checked the sha
    assert file.notebook is not None  # noqa: S101
    plan_folder(repository, plan.id, file.notebook)
    return plan, file.notebook


def plan_folder(repository: Repository, plan_id: str, notebook: Notebook) -> Path:
    """The kernel's working directory the (verified) plan notebook records, checked again.

    Raises PlanFolderError when it is no longer a folder the plan may run in.
    """
    recorded = planned_cwd(notebook)
    try:
        return kernel_cwd(repository, recorded)
    except PathEscapeError as error:
        raise PlanFolderError(plan_id, recorded, error.reason) from None
