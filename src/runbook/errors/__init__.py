"""Every error Runbook raises on purpose.

The tree::

    RunbookError
    ├── UsageError                  the request itself is wrong (CLI exit code 2)
    │   ├── NotARepositoryError     no runbook.toml here or above
    │   ├── PathEscapeError         a user path leaves the repository
    │   ├── UnknownRunbookError     no such runbook
    │   ├── UnknownPlanError        no such plan
    │   ├── PlaybookPlanError       a playbook's plan given to `runbook run`
    │   ├── UnknownStandingApprovalError  no such standing approval
    │   ├── UnknownRunError         no such run
    │   ├── UnknownArtifactError    no such stored notebook, log or report of a run
    │   ├── UnknownWorkflowRunError no such workflow run
    │   ├── UnknownWorkflowError    no such workflow
    │   ├── UnknownPlaybookError    no such imported playbook (or version)
    │   ├── UnknownPlaybookRunError no such playbook run
    │   ├── UnknownTemplateError    no such template
    │   ├── UnknownTokenError       no such API token
    │   ├── UnknownSessionError     no editing session of the caller's so named
    │   ├── UnknownAutosaveError    no autosave of the caller's so named
    │   ├── IdempotencyConflictError  an Idempotency-Key reused for another request (HTTP 409)
    │   ├── UnknownCatalogEntryError no such service or error code in the catalog
    │   ├── AlertPayloadError       an alert payload is malformed (names the field)
    │   ├── ParameterError          a parameter name or value is invalid (also ValueError)
    │   └── IdentityError           an identity is empty or holds an unprintable character
    └── FailureError                a well-formed request could not be carried out (exit code 1)
        ├── NotebookFormatError     a notebook file is unreadable or malformed
        ├── MetadataError           metadata.runbook is malformed
        ├── SpecError               a workflow, playbook or catalog YAML is invalid (at a path)
        ├── ConfigError             runbook.toml or the environment is malformed
        ├── AlreadyExistsError      refusing to overwrite something
        ├── InjectionError          a generated parameters cell is not pure literals
        ├── ReportError             a report could not be rendered or printed (PDF needs Chromium)
        ├── CredentialsError        the service could not tell who is calling (HTTP 401)
        │   └── TooManyFailuresError  too many failed authentications from one address (429)
        ├── PolicyError             refused by the repository's rules
        │   ├── ForbiddenError      the caller's role does not grant what they asked for
        │   ├── CheckFailedError    `check` errors in a runbook planned without --force
        │   ├── WebhookAuthError    an alert's sender failed its source's secret check
        │   ├── SelfReviewError     the planner tried to review their own plan
        │   ├── SignatureError      a review's SSH signature is missing, invalid or unlisted
        │   ├── NothingToWithdrawError  a withdrawal by a reviewer with no standing verdict
        │   ├── StandingRefusedError  no standing approval covers an unattended caller's plan
        │   ├── ReviewRequiredError the plan needs an approval it does not have
        │   ├── PlaybookReviewError a playbook needing review run without an approved plan
        │   ├── PlanModifiedError   the plan no longer matches its recorded sha256
        │   ├── PlanUnreadableError the plan file is gone, or no longer a valid notebook
        │   ├── PlanCodeChangedError repository code the plan can import changed since planning
        │   ├── PlanFolderError     the plan's working directory is no longer a folder it may use
        │   ├── NotAPlanError       a runbook was given where only a plan may run
        │   ├── PlanRunningError    the plan is already running
        │   ├── GateDeciderError    a gate needs a decider other than the run's executor
        │   ├── TargetLockedError   a target is in use by another playbook run
        │   └── RunRefusedError     a run refused before it started (any of the above)
        ├── StoreError              the database could not be used
        │   └── StoreUnavailableError  it stayed unreachable through every retry
        ├── RunStoreLostError       a run ended interrupted: the store stopped taking its records
        ├── GateNotWaitingError     a decision for a gate that is not waiting (or twice)
        ├── RunNotRunningError      a cancel or interrupt of a run that is not running
        ├── EgressError             an outbound HTTP request was refused or failed
        ├── DataSourceError         an inventory's or a sensor's source failed or answered badly
        └── AuditTamperedError      the audit log's chain, anchors or records disagree

Each leaf builds its message from structured fields, names the thing and the place, and
says how to fix it where there is a fix. Errors pickle (``__reduce__``) so they can cross
process boundaries unchanged.

The tree lives in five modules (``base``, ``usage``, ``policy``, ``failures``, ``access``);
every name is imported from here.
"""

from __future__ import annotations

from runbook.errors.access import (
    CredentialsError,
    ForbiddenError,
    IdempotencyConflictError,
    TooManyFailuresError,
    UnknownAutosaveError,
    UnknownSessionError,
    UnknownTokenError,
)
from runbook.errors.base import (
    FailureError,
    RunbookError,
    UsageError,
)
from runbook.errors.failures import (
    AlreadyExistsError,
    AuditTamperedError,
    ConfigError,
    DataSourceError,
    EgressError,
    GateNotWaitingError,
    InjectionError,
    MetadataError,
    NotebookFormatError,
    ReportError,
    RunNotRunningError,
    RunStoreLostError,
    SpecError,
    StoreError,
    StoreUnavailableError,
    redact_url,
)
from runbook.errors.policy import (
    CheckFailedError,
    GateDeciderError,
    NotAPlanError,
    NothingToWithdrawError,
    PlanCodeChangedError,
    PlanFolderError,
    PlanModifiedError,
    PlanRunningError,
    PlanUnreadableError,
    PlaybookReviewError,
    PolicyError,
    ReviewRequiredError,
    RunRefusedError,
    SelfReviewError,
    SignatureError,
    StandingRefusedError,
    TargetLockedError,
    WebhookAuthError,
    refuses_runs,
)
from runbook.errors.usage import (
    AlertPayloadError,
    IdentityError,
    NotARepositoryError,
    ParameterError,
    PathEscapeError,
    PlaybookPlanError,
    UnknownArtifactError,
    UnknownCatalogEntryError,
    UnknownPlanError,
    UnknownPlaybookError,
    UnknownPlaybookRunError,
    UnknownRunbookError,
    UnknownRunError,
    UnknownStandingApprovalError,
    UnknownTemplateError,
    UnknownWorkflowError,
    UnknownWorkflowRunError,
)

__all__ = [
    "AlertPayloadError",
    "AlreadyExistsError",
    "AuditTamperedError",
    "CheckFailedError",
    "ConfigError",
    "CredentialsError",
    "DataSourceError",
    "EgressError",
    "FailureError",
    "ForbiddenError",
    "GateDeciderError",
    "GateNotWaitingError",
    "IdempotencyConflictError",
    "IdentityError",
    "InjectionError",
    "MetadataError",
    "NotAPlanError",
    "NotARepositoryError",
    "NotebookFormatError",
    "NothingToWithdrawError",
    "ParameterError",
    "PathEscapeError",
    "PlanCodeChangedError",
    "PlanFolderError",
    "PlanModifiedError",
    "PlanRunningError",
    "PlanUnreadableError",
    "PlaybookPlanError",
    "PlaybookReviewError",
    "PolicyError",
    "ReportError",
    "ReviewRequiredError",
    "RunNotRunningError",
    "RunRefusedError",
    "RunStoreLostError",
    "RunbookError",
    "SelfReviewError",
    "SignatureError",
    "SpecError",
    "StandingRefusedError",
    "StoreError",
    "StoreUnavailableError",
    "TargetLockedError",
    "TooManyFailuresError",
    "UnknownArtifactError",
    "UnknownAutosaveError",
    "UnknownCatalogEntryError",
    "UnknownPlanError",
    "UnknownPlaybookError",
    "UnknownPlaybookRunError",
    "UnknownRunError",
    "UnknownRunbookError",
    "UnknownSessionError",
    "UnknownStandingApprovalError",
    "UnknownTemplateError",
    "UnknownTokenError",
    "UnknownWorkflowError",
    "UnknownWorkflowRunError",
    "UsageError",
    "WebhookAuthError",
    "redact_url",
    "refuses_runs",
]
