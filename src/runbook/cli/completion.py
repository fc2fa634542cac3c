"""``runbook completion``: print the shell completion script."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL; completes runbooks, plans and templates.

    \b
    bash: eval "$(runbook completion bash)"   (add it to ~/.bashrc)
    zsh:  eval "$(runbook completion zsh)"    (add it to ~/.zshrc)
    fish: runbook completion fish > ~/.config/fish/completions/runbook.fish
    """
    from runbook.cli import cli

    completion_class = get_completion_class(shell)
    if completion_class is None:  # click.Choice above admits only shells click knows
        raise click.BadParameter(f"unsupported shell {shell!r}")
    script = completion_class(cli, {}, "runbook", "_RUNBOOK_COMPLETE").source()
    click.echo(script)
