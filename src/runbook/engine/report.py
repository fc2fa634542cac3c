"""Run reports: an executed notebook as sanitized HTML, Markdown or PDF, with a run summary.

Notebook output is hostile (DESIGN.md, "HTML from notebooks is hostile"): whatever a cell
printed came from the systems it queried. So a report is built in layers, each enough alone:

1. :func:`sanitize_notebook` (in :mod:`runbook.engine.sanitize`) drops outputs that only run
   as script (JavaScript, widgets) or carry data, not display (scrapbook scraps, secret
   references), and passes every HTML, SVG and Markdown string through an nh3 allowlist;
2. nbconvert renders with ``sanitize_html=True`` and its ``clean_html`` filter replaced by the
   same allowlist, so Markdown is cleaned *after* it became HTML;
3. every ``<script>`` the template adds is removed and a Content-Security-Policy ``<meta>``
   forbids script and fetches, so even a report opened from disk runs nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import jinja2
import nbformat
from nbconvert import HTMLExporter, MarkdownExporter
from traitlets.config import Config

from runbook.engine.report_cache import CachedHTMLExporter
from runbook.engine.report_summary import WRAP_CSS, md, summary_html, summary_markdown
from runbook.engine.sanitize import RENDERED_OUT_MIMETYPES, clean_html, sanitize_notebook
from runbook.errors import ReportError, RunbookError
from runbook.model.files import write_atomic
from runbook.model.ids import IdKind, id_path
from runbook.model.report_record import ReportRecord
from runbook.model.run import CellEvent, Run
from runbook.typing import Notebook

__all__ = [
    "CSP",
    "RENDERED_OUT_MIMETYPES",
    "find_chromium",
    "render_html",
    "render_markdown",
    "render_pdf",
    "report_path",
    "sanitize_notebook",
    "write_report",
    "write_run_report",
]

#: The policy of every HTML report: no script, no fetch; inline styles and data: images only.
CSP: Final = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
FORMATS: Final = {"html": "html", "md": "md", "pdf": "pdf"}
PDF_TIMEOUT: Final = 120.0
_REMOVE_TAGS: Final = {
    "remove_cell_tags": ["remove-cell"],
    "remove_input_tags": ["remove-input"],
    "remove_all_outputs_tags": ["remove-output"],
}
# nbconvert warns about images without alt text on every report: noise for a run's operator.
_NBCONVERT_LOG: Final = logging.getLogger("runbook.report.nbconvert")
_NBCONVERT_LOG.setLevel(logging.ERROR)


def render_html(
    notebook: Notebook,
    *,
    run: Run | None = None,
    events: Sequence[CellEvent] = (),
    title: str | None = None,
    template: Path | None = None,
    record: ReportRecord | None = None,
) -> str:
    """A self-contained HTML report: no script, no external fetch, a summary on top.

    ``record`` (with ``run``) adds the plan and approval behind the run, its gate decisions
    and rollbacks to the summary. Code and long output lines wrap, on screen and in print.

    ``template`` is an nbconvert (Jinja) template file to use instead of the lab template,
    typically ``{% extends "lab/index.html.j2" %}`` with blocks of its own; its output is
    sanitized like the rest.
    """
    clean = sanitize_notebook(notebook)
    name = title or _title(clean, run)
    clean.metadata["title"] = name
    exporter = _html_exporter() if template is None else _custom_exporter(template)
    try:
        page, _ = exporter.from_notebook_node(clean, resources={"metadata": {"name": name}})
    except jinja2.TemplateError as error:
        shown = template.name if template is not None else "lab"
        raise ReportError(f"template {shown}: {error}") from None
    # Nothing from the notebook can spell "<script" any more: every one is the template's.
    page = re.sub(r"<script\b.*?</script\s*>", "", page, flags=re.IGNORECASE | re.DOTALL)
    page = re.sub(r"<script", "&lt;script", page, flags=re.IGNORECASE)
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
    )
    page = re.sub(r"<head[^>]*>", lambda m: m.group(0) + "\n" + head, page, count=1)
    # Last in the head, so that its rules come after the theme's in the cascade.
    page = re.sub(r"</head\s*>", lambda m: WRAP_CSS + m.group(0), page, count=1, flags=re.I)
    if run is not None:
        summary = summary_html(name, run, events, record)
        page = re.sub(r"<main>", lambda m: m.group(0) + summary, page, count=1)
    return page


@functools.cache
def _html_exporter() -> HTMLExporter:
    # One exporter per process: its first render compiles the lab template and reads the
    # theme's CSS (about half a second); later renders reuse both.
    exporter = CachedHTMLExporter(  # type: ignore[no-untyped-call]
        config=Config({"TagRemovePreprocessor": {"enabled": True, **_REMOVE_TAGS}}),
        template_name="lab",
        sanitize_html=True,
        exclude_anchor_links=True,
        log=_NBCONVERT_LOG,
    )
    exporter.register_filter("clean_html", clean_html)  # type: ignore[no-untyped-call]
    return exporter


def _custom_exporter(template: Path) -> HTMLExporter:
    if not template.is_file():
        raise ReportError(f"template {template.name}: no such file")
    exporter = CachedHTMLExporter(  # type: ignore[no-untyped-call]
        config=Config({"TagRemovePreprocessor": {"enabled": True, **_REMOVE_TAGS}}),
        template_name="lab",
        template_file=str(template),
        extra_template_basedirs=[str(template.parent)],
        sanitize_html=True,
        exclude_anchor_links=True,
        log=_NBCONVERT_LOG,
    )
    exporter.register_filter("clean_html", clean_html)  # type: ignore[no-untyped-call]
    return exporter


def prepare_html_renderer() -> None:
    """Load and compile everything an HTML report needs, so the real render is quick.

    Meant for a background thread while a kernel runs: the run waits on the kernel, not
    on the interpreter, so the work overlaps.
    """
    render_html(nbformat.v4.new_notebook())


def render_markdown(
    notebook: Notebook,
    *,
    run: Run | None = None,
    events: Sequence[CellEvent] = (),
    record: ReportRecord | None = None,
) -> str:
    """A Markdown report: the run summary as tables, then the sanitized notebook."""
    clean = sanitize_notebook(notebook)
    exporter = MarkdownExporter(  # type: ignore[no-untyped-call]
        config=Config(
            {
                "TagRemovePreprocessor": {"enabled": True, **_REMOVE_TAGS},
                # Images stay inline as data: URIs; the report is one file.
                "ExtractOutputPreprocessor": {"enabled": False},
            }
        ),
        log=_NBCONVERT_LOG,
    )
    body, _ = exporter.from_notebook_node(clean)
    summary = summary_markdown(run, events, record) if run is not None else ""
    return f"# {md(_title(clean, run))}\n\n{summary}{body}"


def _title(notebook: Notebook, run: Run | None) -> str:
    runbook = notebook.metadata.get("runbook")
    named = runbook.get("title") if isinstance(runbook, dict) else None
    base = str(named) if named else "Runbook report"
    return f"{base} (run {run.id})" if run is not None else base


def find_chromium() -> str | None:
    """The Chromium to print with: RUNBOOK_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    from runbook.model.settings_process import process_settings

    chosen = process_settings().chromium
    if chosen:
        return shutil.which(chosen)
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return next(
        (f for n in ("chromium", "chromium-browser", "google-chrome") if (f := shutil.which(n))),
        None,
    )


def render_pdf(html: str, destination: Path) -> None:
    """Print an HTML report to ``destination`` with headless Chromium (written atomically)."""
    chromium = find_chromium()
    if chromium is None:
        raise ReportError(
            "PDF export needs Chromium: apt-get install chromium (or set RUNBOOK_CHROMIUM)"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runbook-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
        argv = [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *("--disable-component-update", "--disable-sync", "--no-first-run"),
            f"--user-data-dir={scratch}/profile",
            f"--print-to-pdf={printed}",
            "--no-pdf-header-footer",
            page.as_uri(),
        ]
        # Chromium writes crash reports and caches under XDG folders: keep them in scratch.
        env = {**os.environ, "XDG_CONFIG_HOME": scratch, "XDG_CACHE_HOME": scratch}
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=PDF_TIMEOUT,
                env=env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            printed.unlink(missing_ok=True)
            raise ReportError(f"Chromium did not print the PDF in {PDF_TIMEOUT:.0f} s") from None
        except OSError as error:
            raise ReportError(f"cannot start Chromium ({chromium}): {error}") from None
        size = printed.stat().st_size if printed.exists() else 0
        if done.returncode != 0 or size == 0:
            printed.unlink(missing_ok=True)
            raise ReportError(
                f"Chromium failed to print the PDF (exit {done.returncode}): "
                + _first_error(done.stderr)
            )
        os.replace(printed, destination)


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # Skip what every headless start prints: no D-Bus here, and Debian's wrapper script noise.
    useful = [x for x in lines if "dbus" not in x and "unexpected operator" not in x]
    return (useful or lines or ["no output"])[0]


def write_report(
    notebook: Notebook,
    destination: Path,
    fmt: str,
    *,
    run: Run | None = None,
    events: Sequence[CellEvent] = (),
    template: Path | None = None,
    record: ReportRecord | None = None,
) -> Path:
    """Render ``notebook`` as ``fmt`` (html, md or pdf) to ``destination``; returns it.

    ``template`` (html and pdf) is a custom nbconvert template file: see :func:`render_html`.
    """
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    try:
        if fmt == "md":
            text = render_markdown(notebook, run=run, events=events, record=record)
            write_atomic(destination, text)
        elif fmt == "html":
            html = render_html(notebook, run=run, events=events, template=template, record=record)
            write_atomic(destination, html)
        else:
            html = render_html(notebook, run=run, events=events, template=template, record=record)
            render_pdf(html, destination)
    except OSError as error:  # a destination the user named may be anything: one line
        raise ReportError(f"cannot write {destination}: {error.strerror or error}") from None
    return destination


def report_path(repo_root: Path, run: Run, fmt: str) -> Path:
    """Where a run's report lives by default: ``runs/<run-id>/report.<ext>``."""
    return id_path(repo_root / "runs", IdKind.RUN, run.id) / f"report.{FORMATS.get(fmt, fmt)}"


def write_run_report(
    repo_root: Path,
    run: Run,
    events: Sequence[CellEvent],
    notebook: Notebook,
    *,
    formats: Sequence[str] = ("html",),
    record: ReportRecord | None = None,
) -> list[Path]:
    """Write ``runs/<run-id>/report.<ext>`` for each format; returns the paths written."""
    return [
        write_report(
            notebook, report_path(repo_root, run, fmt), fmt, run=run, events=events, record=record
        )
        for fmt in formats
    ]


def write_run_reports(
    repo_root: Path,
    run: Run,
    events: Sequence[CellEvent],
    notebook: Notebook,
    formats: Sequence[str],
    record: ReportRecord | None = None,
) -> tuple[list[Path], list[str]]:
    """Each format's report, one failing format a warning: (paths written, warnings)."""
    written: list[Path] = []
    warnings: list[str] = []
    for fmt in formats:
        try:
            written += write_run_report(
                repo_root, run, events, notebook, formats=[fmt], record=record
            )
        except RunbookError as error:
            warnings.append(f"{fmt} report not written: {error}")
    return written, warnings
