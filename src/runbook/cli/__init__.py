"""The ``runbook`` command: a thin edge that parses, calls the core and renders.

Subcommands are imported only when invoked, so ``runbook strip`` (run by git on every
``git add`` of a notebook) and shell completion start quickly.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Final

import click

from runbook.cli.errors import one_line
from runbook.errors import RunbookError
from runbook.outcomes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for

#: command name → ("module:function" under runbook.cli, its one-line summary), in the order
#: --help lists them. The summaries are here so that ``runbook --help`` imports no command.
COMMANDS: Final = {
    "init": ("init:init_command", "Make a folder a runbook repository."),
    "create": ("create:create_command", "Create a runbook from a template."),
    "templates": ("create:templates_command", "List the templates `create` can start from."),
    "check": ("check:check_command", "Lint runbooks without running them."),
    "plan": ("plan:plan_command", "Bind a runbook to parameter values: a plan."),
    "review": ("review:review_command", "Show a plan for review and record a verdict."),
    "verify": ("review:verify_command", "Check that a plan may run."),
    "approve-standing": (
        "standing:approve_standing_command",
        "Approve a runbook for unattended callers, within bounds.",
    ),
    "standing": ("standing:standing_group", "List, show and revoke standing approvals."),
    "list": ("listing:list_command", "List the runbooks under runbooks/."),
    "show": ("listing:show_command", "Show a runbook: metadata, parameters, cells."),
    "plans": ("listing:plans_command", "List plans, newest first, with their reviews."),
    "show-plan": ("listing:show_plan_command", "Show a plan: values, hash, status, reviews."),
    "run": ("run:run_command", "Execute a plan in a Jupyter kernel, gate by gate."),
    "runs": ("runs:runs_command", "List runs, newest first."),
    "log": ("runs:log_command", "Show what a run did, cell by cell (or follow it)."),
    "audit": ("audit:audit_group", "Read, check and anchor the tamper-evident audit log."),
    "workflow": ("workflow:workflow_group", "Workflows: DAGs of notebook tasks."),
    "playbook": ("playbook:playbook_group", "Playbooks: steps run across a fleet of targets."),
    "catalog": (
        "catalog:catalog_group",
        "Catalog: error codes to procedures; alerts answered.",
    ),
    "scheduler": ("scheduler:scheduler_command", "Run workflows on schedules and sensors."),
    "gc": ("gc:gc_command", "Delete finished runs older than the retention."),
    "export": ("export:export_command", "Export a run as a report."),
    "edit": ("edit:edit_command", "Edit runbooks in JupyterLab on 127.0.0.1."),
    "sessions": ("sessions:sessions_group", "Your editing sessions on a server, and autosaves."),
    "serve": ("serve:serve_command", "Serve the REST API of this repository."),
    "login": ("login:login_command", "Log in to a Runbook server with an API token."),
    "logout": ("login:logout_command", "Forget a server's token."),
    "whoami": ("login:whoami_command", "Who the current server takes you for."),
    "token": ("token:token_group", "Create, list and revoke the service's API tokens."),
    "db": ("db:db_group", "Manage the store's schema."),
    "strip": ("strip:strip_command", "Remove outputs and run metadata from notebooks."),
    "completion": ("completion:completion_command", "Print a shell's completion script."),
}

EPILOG = """\b
Exit codes: 0 success; 1 failure (the request was fine but could not be carried out);
2 usage error (unknown runbook, plan, option or bad parameter); 130 interrupted;
`run`, `workflow run` and `playbook run` add 3 (aborted, rolled back, cancelled,
interrupted); `run` and `playbook run` add 4 (refused before starting).
Environment: RUNBOOK_REPO (repository folder), RUNBOOK_USER (acting user),
RUNBOOK_DB_URL and RUNBOOK_DB_PASSWORD (store), RUNBOOK_SECRETS_DIR (secret files),
RUNBOOK_SERVER and RUNBOOK_TOKEN (a server to talk to, and the token for it).
Shell completion: eval "$(runbook completion bash)" (or zsh, fish).
"""


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, summary = COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        module = importlib.import_module(f"runbook.cli.{module_name}")
        command: click.Command = getattr(module, attribute)
        command.short_help = summary
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from :data:`COMMANDS`, importing none of them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    "repo",
    metavar="DIR",
    envvar="RUNBOOK_REPO",
    help="Repository folder (default: the nearest folder upwards with runbook.toml).",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="RUNBOOK_DEBUG",
    help="Show tracebacks instead of one-line errors.",
)
@click.option(
    "--server",
    "server",
    metavar="URL",
    help="Talk to the Runbook server at URL (default: RUNBOOK_SERVER, else the server "
    "`runbook login` logged in to).",
)
@click.version_option(package_name="runbook", prog_name="runbook")
@click.pass_context
def cli(ctx: click.Context, repo: str | None, debug: bool, server: str | None) -> None:
    """Runbook: operations runbooks as Jupyter notebooks.

    Write a runbook (create), bind it to values (plan), have a second person approve it
    (review), then run it with a confirm gate before every mutative step.
    """
    ctx.obj = {"repo": repo, "debug": debug, "server": server}


def entry() -> None:
    """The ``runbook`` executable: first out of any credential in the environment, then main.

    Kept apart from :func:`main`, which tests call in process: re-executing there would
    replace the test runner.
    """
    from runbook.credentials import protect

    try:
        protect()
    except RunbookError as error:
        _fail(str(error), exit_code_for(error))
    main()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("RUNBOOK_DEBUG"))
    try:
        result: Any = cli.main(args=args, prog_name="runbook", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", EXIT_INTERRUPTED)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "runbook"
        _fail(f"{error.format_message()} (see `{command} --help`)", EXIT_USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except RunbookError as error:
        if debug:
            raise
        lines = error.lines()
        for line in lines[:-1]:
            sys.stderr.write(f"runbook: error: {one_line(line)}\n")
        _fail(lines[-1], exit_code_for(error))
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)
    except Exception as error:
        if debug:
            raise
        _fail(
            f"internal error: {type(error).__name__}: {error} "
            "(rerun with --debug for the traceback)",
            EXIT_FAILURE,
        )
    sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"runbook: error: {one_line(message)}\n")
    sys.exit(code)
