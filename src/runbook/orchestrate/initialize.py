"""``runbook init``: lay out a repository, idempotently, and say what changed."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from runbook.errors import ConfigError
from runbook.model.files import write_atomic
from runbook.model.repository import CONFIG_FILE, FOLDERS

FILTER_NAME: Final = "runbook-strip"
IGNORED: Final = ("runs/", ".runbook/", ".ipynb_checkpoints/")
ATTRIBUTES: Final = (
    f"runbooks/**/*.ipynb filter={FILTER_NAME}",
    f"templates/**/*.ipynb filter={FILTER_NAME}",
)
CONFIG_TEXT: Final = """\
# Runbook repository settings. See `runbook --help`.

[repository]
name = "{name}"

[review]
# Which runbooks need a second person's approval before they run:
# "all", "none", or "tagged": those whose metadata.runbook.tags include one of `tags`.
require = "tagged"
tags = ["critical"]
# Distinct approvals a plan needs, and from whom (names or @group; empty: anyone but the
# planner). A rejection vetoes until its reviewer withdraws it (`runbook review --withdraw`).
# approvals = 1
# reviewers = []
# Verdicts signed with SSH keys listed in allowed_signers (`ssh-keygen -Y`, as git signs):
# signed = false
# allowed_signers = "allowed_signers"
#
# [review.groups]
# dba = ["carol@example.org", "dave@example.org"]
#
# [review.tag.critical]
# approvals = 2
# reviewers = ["@dba"]

[store]
# SQLAlchemy URL of the store. Empty: SQLite in .runbook/runbook.db.
# RUNBOOK_DB_URL overrides it; a {{}} in the URL is replaced by RUNBOOK_DB_PASSWORD
# (or the secret file of that name), e.g. postgresql://runbook:{{}}@db:5432/runbook
url = ""

[report]
# Reports written to runs/<run>/ after every run: any of "html", "md", "pdf" (PDF needs
# Chromium); [] for none.
formats = ["html"]

[notify]
# Apprise URLs told about runs (e.g. "slack://..." or "secret:SLACK_WEBHOOK"), and on what.
urls = []
on = ["run.started", "cell.decided", "run.failed", "run.finished"]

[egress]
# Private, loopback or link-local hosts outbound HTTP may reach (names, IPs or CIDRs).
allow_private = []

[workflows]
# Where workflows files and their notebooks are (RUNBOOK_INPUTS_DIR / AUTOFLOW_INPUTS_DIR
# override it), and where each workflow run's reports go: <outputs>/<run>/reports/.
inputs = "workflows"
outputs = "runs"
# Tasks of one workflow run at once; attempts of a failing sensor firing before giving up.
max_parallel = 4
sensor_attempts = 3
# FlowAPI for the available-dates sensor and notebooks' flowapi_url (FLOWAPI_URL wins).
flowapi_url = ""

[retention]
# How long finished records are kept before `runbook gc` (daily under `runbook scheduler`)
# removes them and their folders under runs/: e.g. "90d", "36h", "2w". Unset: forever.
# runs = "90d"
# workflow_runs = "90d"
# playbook_runs = "30d"
"""


@dataclass
class InitReport:
    """What ``init_repository`` did: the things it created or changed, in order."""

    root: Path
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """False when the repository was already fully initialised."""
        return bool(self.changes)


def init_repository(directory: Path, *, strip_command: str | None = None) -> InitReport:
    """Create the repository layout in ``directory``; safe to run again.

    Makes the folders, ``runbook.toml``, ``.gitignore`` entries for ``runs/`` and
    ``.runbook/``, a git repository when ``directory`` is not inside one, and the git clean
    filter that strips outputs from notebooks under ``runbooks/`` and ``templates/``.
    """
    root = directory.resolve()
    report = InitReport(root=root)
    root.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        if not (root / folder).is_dir():
            (root / folder).mkdir()
            report.changes.append(f"created {folder}/")
    config = root / CONFIG_FILE
    if not config.exists():
        write_atomic(config, CONFIG_TEXT.format(name=_toml_text(root.name)))
        report.changes.append(f"created {CONFIG_FILE}")
    _ensure_lines(root / ".gitignore", IGNORED, report)
    _ensure_lines(root / ".gitattributes", ATTRIBUTES, report)
    if not _inside_git(root):
        _git(root, "init", "--quiet")
        report.changes.append("ran git init")
    command = strip_command or default_strip_command()
    if _git(root, "config", "--get", f"filter.{FILTER_NAME}.clean", check=False) != command:
        _git(root, "config", f"filter.{FILTER_NAME}.clean", command)
        report.changes.append(f"configured git filter {FILTER_NAME}")
    return report


def default_strip_command() -> str:
    """The clean filter command: this Python running ``runbook strip``, by absolute path."""
    return f"{shlex.quote(sys.executable)} -m runbook strip"


def _toml_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _ensure_lines(path: Path, lines: tuple[str, ...], report: InitReport) -> None:
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in lines if line not in present]
    if not missing:
        return
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    write_atomic(path, prefix + "\n".join(missing) + "\n")
    report.changes.append(f"{'updated' if existing else 'created'} {path.name}")


def _inside_git(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-inside-work-tree", check=False) == "true"


def _git(root: Path, *args: str, check: bool = True) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise ConfigError("git", "not found on PATH; install git to use runbook init") from None
    if check and result.returncode != 0:
        raise ConfigError(f"git {' '.join(args)}", result.stderr.strip() or "failed")
    return result.stdout.strip()
