"""``runbook strip``: the git clean filter, also usable by hand and in CI."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook.model.files import write_atomic
from runbook.model.strip import strip_text
from runbook.outcomes import EXIT_FAILURE, EXIT_OK


@click.command("strip")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit 1 listing the files that still hold outputs.",
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def strip_command(check: bool, files: tuple[Path, ...]) -> int:
    """Remove outputs, execution counts and run metadata from notebooks.

    With no FILES, filters stdin to stdout (this is how git runs it). Tags and
    metadata.runbook are kept; cells tagged keep_output keep their outputs.
    """
    if not files:
        sys.stdout.write(strip_text(sys.stdin.read()))
        return EXIT_OK
    dirty = []
    for path in files:
        text = _read(path)
        stripped = strip_text(text, str(path))
        if stripped == text:
            continue
        dirty.append(path)
        if not check:
            write_atomic(path, stripped)
    for path in dirty:
        click.echo(f"{'would strip' if check else 'stripped'} {path}", err=True)
    return EXIT_FAILURE if check and dirty else EXIT_OK


def _read(path: Path) -> str:
    from runbook.errors import NotebookFormatError

    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise NotebookFormatError(str(path), error.strerror or "unreadable") from None
