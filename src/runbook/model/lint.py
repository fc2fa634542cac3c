"""``runbook check``: what makes a runbook unsafe or unplannable, found without running it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runbook.model.injection import INJECTED_TAG, PARAMETERS_TAG, cell_tags
from runbook.model.languages import PYTHON
from runbook.model.lint_calls import DRY_RUN_VARIABLE, CallScan, notebook_names, scan_cell
from runbook.model.notebook import RUNBOOK_TAGS, Runbook
from runbook.model.parameter_inference import infer_specs

#: Shell commands and statements that change the world; a cell using one needs `confirm`.
MUTATIVE_PATTERNS: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"mutative\s*=\s*True",
        r"\brm\s+-[a-z]*[rf]",
        r"\bsystemctl\s+(restart|stop|start|reload|disable|enable|kill)\b",
        r"\bservice\s+\S+\s+(restart|stop|start)\b",
        r"\bkubectl\s+(delete|apply|create|replace|scale|rollout|drain|cordon|patch|edit)\b",
        r"\bhelm\s+(install|upgrade|uninstall|rollback)\b",
        r"\bterraform\s+(apply|destroy|import)\b",
        r"\bdocker\s+(rm|rmi|stop|kill|restart)\b",
        r"\b(reboot|shutdown|halt|poweroff)\b",
        r"\bdrop\s+(table|database|index|schema)\b",
        r"\btruncate\s+table\b",
        r"\bdelete\s+from\b",
        r"\bupdate\s+\w+\s+set\b",
        r"\bgit\s+push\b",
        r"\baws\s+\S+\s+(terminate|delete|remove|put)-",
    )
)
#: A trailing comment that tells the linter a cell only looks mutative.
NOT_MUTATIVE_MARK: Final = "runbook: not-mutative"
_QUIET_TAGS: Final = frozenset(
    {"confirm", "rollback", "skip-execution", PARAMETERS_TAG, INJECTED_TAG}
)


class Severity(StrEnum):
    """Errors fail ``runbook check``; warnings are advice."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem in a runbook, located by cell index when it is about one cell."""

    severity: Severity
    code: str
    message: str
    cell: int | None = None


def check_runbook(runbook: Runbook) -> list[Finding]:
    """Every finding for a runbook, errors and warnings, in cell order."""
    findings = [
        *_check_order(runbook),
        *_check_mutations(runbook),
        *_check_calls(runbook),
        *_check_tags(runbook),
        *_check_parameters(runbook),
        # What nbformat's validator rejects and Runbook reads leniently (as nbclient does).
        *(Finding(Severity.WARNING, "nbformat", line) for line in runbook.warnings),
    ]
    return sorted(findings, key=lambda f: (-1 if f.cell is None else f.cell, f.code))


def _check_order(runbook: Runbook) -> list[Finding]:
    prechecks = [i for i, _ in runbook.cells_tagged("precheck")]
    confirms = [i for i, _ in runbook.cells_tagged("confirm")]
    findings = []
    if prechecks:
        findings += [
            Finding(
                Severity.ERROR,
                "confirm-before-precheck",
                f"confirm cell comes before the first precheck (cell "
                f"{prechecks[0]}): run checks before mutating",
                index,
            )
            for index in confirms
            if index < prechecks[0]
        ]
    elif confirms:
        findings.append(
            Finding(
                Severity.WARNING,
                "no-precheck",
                "mutative steps but no precheck cell: check before you act",
            )
        )
    if confirms and not any(runbook.cells_tagged("rollback")):
        findings.append(
            Finding(Severity.WARNING, "no-rollback", "mutative steps but no rollback cell")
        )
    if confirms and not any(runbook.cells_tagged("verify")):
        findings.append(Finding(Severity.WARNING, "no-verify", "mutative steps but no verify cell"))
    return findings


def _check_mutations(runbook: Runbook) -> list[Finding]:
    findings = []
    for index, cell in enumerate(runbook.notebook.cells):
        if cell.cell_type != "code" or _QUIET_TAGS & set(cell_tags(cell)):
            continue
        if NOT_MUTATIVE_MARK in cell.source:
            continue
        match = next((m for p in MUTATIVE_PATTERNS if (m := p.search(cell.source))), None)
        if match:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "mutation-without-confirm",
                    f"looks mutative ({match.group(0)!r}) but is not tagged confirm; tag it, or "
                    f"add the comment '# {NOT_MUTATIVE_MARK}' if it only reads",
                    index,
                )
            )
    return findings


def _check_calls(runbook: Runbook) -> list[Finding]:
    """Direct process and file calls (:mod:`runbook.model.lint_calls`) outside confirm, and
    inside confirm when the runbook says a dry run may execute its confirm cells."""
    if runbook.language != PYTHON:  # Python's grammar would misread R or bash
        return []
    code = [(i, c) for i, c in enumerate(runbook.notebook.cells) if c.cell_type == "code"]
    names = notebook_names(c.source for _, c in code)
    findings = []
    for index, cell in code:
        tags = set(cell_tags(cell))
        if "skip-execution" in tags:
            continue
        scan = scan_cell(cell.source, names)
        if scan.syntax_error is not None:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "syntax-error",
                    f"not Python ({scan.syntax_error}): its calls are not checked",
                    index,
                )
            )
        helpers = runbook.meta.dry_run == "helpers"
        if helpers and DRY_RUN_VARIABLE in cell.source:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "dry-run-outside-helpers",
                    f"names {DRY_RUN_VARIABLE}, which a dry run of a runbook with "
                    "metadata.runbook.dry_run = 'helpers' relies on: leave it to the helpers",
                    index,
                )
            )
        if "confirm" in tags and helpers:
            findings += _outside_helpers(index, scan)
        elif scan.calls and not _QUIET_TAGS & tags and NOT_MUTATIVE_MARK not in cell.source:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "call-without-confirm",
                    f"calls {_calls_shown(scan)} but is not tagged confirm; tag it, or add "
                    f"the comment '# {NOT_MUTATIVE_MARK}' if it only reads",
                    index,
                )
            )
    return findings


def _outside_helpers(index: int, scan: CallScan) -> list[Finding]:
    what = acts_around_helpers(scan)
    if what is None:
        return []
    return [
        Finding(
            Severity.ERROR,
            "dry-run-outside-helpers",
            f"metadata.runbook.dry_run is 'helpers', so a dry run executes this confirm cell, "
            f"but it {what}: use sh(..., mutative=True), or drop dry_run",
            index,
        )
    ]


def acts_around_helpers(scan: CallScan) -> str | None:
    """How a confirm cell would act in a helpers dry run (``RUNBOOK_DRY_RUN=1``), or None
    when all it does that looks mutative goes through ``sh(..., mutative=True)``.

    ``sh(...)`` without ``mutative=True`` runs in a dry run: allowed for commands that only
    read, refused when the call looks mutative (:data:`MUTATIVE_PATTERNS`).
    """
    if scan.syntax_error is not None:
        return f"cannot be read as Python ({scan.syntax_error})"
    if scan.calls:
        return f"calls {_calls_shown(scan)} directly"
    if scan.shell:
        return "runs a shell (! or a shell magic)"
    for line, text in scan.unannounced:
        if NOT_MUTATIVE_MARK not in text and any(p.search(text) for p in MUTATIVE_PATTERNS):
            return f"calls sh() on a mutative-looking command without mutative=True (line {line})"
    return None


def _calls_shown(scan: CallScan) -> str:
    name, line = scan.calls[0]
    more = len(scan.calls) - 1
    return f"{name}() (line {line})" + (f" and {more} more" if more else "")


def _check_tags(runbook: Runbook) -> list[Finding]:
    findings = []
    parameter_cells = [i for i, _ in runbook.cells_tagged(PARAMETERS_TAG)]
    for index in parameter_cells[1:]:
        findings.append(
            Finding(
                Severity.WARNING,
                "extra-parameters-cell",
                "more than one parameters cell; only the first is used",
                index,
            )
        )
    for index, _ in runbook.cells_tagged(INJECTED_TAG):
        findings.append(
            Finding(
                Severity.WARNING,
                "injected-in-source",
                "an injected-parameters cell in an authored runbook is replaced when planning",
                index,
            )
        )
    for index, cell in enumerate(runbook.notebook.cells):
        tags = cell_tags(cell)
        if cell.cell_type != "code" and {"confirm", "precheck", "verify", "rollback"} & set(tags):
            findings.append(
                Finding(
                    Severity.WARNING,
                    "tag-on-markdown",
                    "execution tags on a markdown cell have no effect",
                    index,
                )
            )
        for tag in tags:
            close = difflib.get_close_matches(tag, list(RUNBOOK_TAGS), n=1, cutoff=0.75)
            if tag not in RUNBOOK_TAGS and close:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "unknown-tag",
                        f"tag {tag!r}: did you mean {close[0]!r}?",
                        index,
                    )
                )
    return findings


def _check_parameters(runbook: Runbook) -> list[Finding]:
    cell = runbook.parameters_cell
    declared = runbook.meta.declared
    findings = []
    if cell is None:
        if runbook.parameters:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "no-parameters-cell",
                    "parameters are declared but no cell is tagged parameters;"
                    " values will be injected at the top",
                )
            )
        return findings
    index = runbook.notebook.cells.index(cell)
    if runbook.language != PYTHON:  # Python's rules would read names out of R or bash code
        if declared is None:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "parameters-not-inferred",
                    f"parameters of {runbook.language} notebooks are not inferred: -p values "
                    "are injected as given; declare them in metadata.runbook.parameters",
                    index,
                )
            )
        return findings
    in_cell = infer_specs(cell.source)
    if declared is None:
        if in_cell:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "inferred-parameters",
                    "parameters are inferred from the cell; declare them in "
                    "metadata.runbook.parameters for types and help",
                    index,
                )
            )
        return findings
    for name in in_cell:
        if name not in declared:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "undeclared-parameter",
                    f"{name!r} is set in the parameters cell but not declared "
                    "in metadata.runbook.parameters",
                    index,
                )
            )
    for name, spec in declared.items():
        if name not in in_cell and not spec.secret:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "parameter-not-in-cell",
                    f"{name!r} is declared but has no default in the parameters cell",
                    index,
                )
            )
    return findings
