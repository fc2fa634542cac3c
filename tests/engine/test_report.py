"""Run reports: hostile notebook output renders to HTML that runs nothing (T2, Z6)."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from runbook.engine.report import (
    CSP,
    find_chromium,
    render_html,
    render_markdown,
    render_pdf,
    write_run_report,
)
from runbook.engine.sanitize import clean_markdown, sanitize_notebook
from runbook.errors import ReportError
from runbook.model.run import CellEvent, CellStatus, Decision, Run, RunMode, RunState

v4 = nbformat.v4
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# What a payload runs if it ever gets to run; written so that "PWNED" appears only if it ran.
JS = "document.title='PWN'+'ED';document.body.append('PWN'+'ED')"
HTML_PAYLOADS = [
    f"<script>{JS}</script>",
    f'<img src=x onerror="{JS}">',
    f"<svg><script>{JS}</script></svg>",
    f'<svg onload="{JS}"></svg>',
    f'<a href="javascript:{JS}">link1</a>',
    f'<a href="JaVaScRiPt:{JS}">link2</a>',
    f'<a href="java&#x09;script:{JS}">link3</a>',
    f'<a href="&#106;avascript:{JS}">link4</a>',
    '<a href="vbscript:msgbox(1)">link5</a>',
    '<iframe src="https://evil.example/"></iframe>',
    f'<iframe srcdoc="<script>{JS}</script>"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    f'<object data="data:text/html,<script>{JS}</script>"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example/"><input name=q><button>go</button></form>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{JS}">',
    f'<svg><foreignObject><body><img src=x onerror="{JS}"></body></foreignObject></svg>',
    f'<svg><animate onbegin="{JS}" attributeName=href values="javascript:{JS}"/></svg>',
    f'<svg><a><animate attributeName=href values="javascript:{JS}"/><text>t</text></a></svg>',
    f'<svg><set attributeName=onmouseover to="{JS}"/></svg>',
    f'<meta http-equiv="refresh" content="0;url=javascript:{JS}">',
    '<base href="https://evil.example/">',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">link6</a>',
    f'<body onload="{JS}">',
    f'<div style="background:url(javascript:{JS})">styled1</div>',
    '<div style="width: expression(alert(1))">styled2</div>',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<style>@import 'https://evil.example/x.css';</style>",
    f'<details open ontoggle="{JS}"><summary>s</summary></details>',
    f'<video><source onerror="{JS}"></video>',
    f'<input autofocus onfocus="{JS}">',
    f'<noscript><p title="</noscript><img src=x onerror=&quot;{JS}&quot;>"></noscript>',
    f'<button formaction="javascript:{JS}">b</button>',
    f'"><script>{JS}</script>',
    f"<scr<script>ipt>{JS}</script>",
    f'<table><td background="javascript:{JS}">cell</td></table>',
    f'<svg><title><img src=x onerror="{JS}"></title></svg>',
    f'<svg><style><img src=x onerror="{JS}"></style></svg>',
    f'<img alt="</script><script>{JS}</script>" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
]
MARKDOWN_PAYLOADS = [
    f"[md1](javascript:{JS})",
    f"![md2](javascript:{JS})",
    "[md3](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    f"[md4](javascript\\:{JS})",
    f"[md5][ref]\n\n[ref]: javascript:{JS}",
    f"<javascript:{JS}>",
    f'```mermaid\n</pre><img src=x onerror="{JS}">\n```',
]
SVG_PAYLOADS = [
    f'<svg xmlns="http://www.w3.org/2000/svg"><script>{JS}</script></svg>',
    f'<svg xmlns="http://www.w3.org/2000/svg" onload="{JS}"><rect width="1" height="1"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><iframe src="https://evil.example"/>'
    "</foreignObject></svg>",
    '<svg xmlns="http://www.w3.org/2000/svg"><use href="https://evil.example/x.svg#a"/></svg>',
]
HOSTILE_TEXT = "<script>alert('x')</script><img src=x onerror=alert(1)>"
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()


def hostile_notebook() -> Any:
    """A notebook with every payload in every field a report renders."""
    nb = v4.new_notebook()
    nb.metadata["title"] = HOSTILE_TEXT
    nb.metadata["runbook"] = {"title": f"Restart {HOSTILE_TEXT}"}
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {}, "x": f"</script>{JS}"}
    }
    legit = "# Restart\n\n| host | state |\n|---|---|\n| db1 | up |\n\n```\nkubectl logs <pod>\n```"
    nb.cells = [v4.new_markdown_cell(legit)]
    nb.cells += [v4.new_markdown_cell(p) for p in HTML_PAYLOADS + MARKDOWN_PAYLOADS]
    nb.cells.append(
        v4.new_code_cell(
            "print('checking')",
            execution_count=1,
            outputs=[
                v4.new_output("stream", text="all systems nominal\n"),
                v4.new_output("display_data", data={"text/html": "<b>important</b>"}),
                v4.new_output(
                    "display_data",
                    data={"image/png": PNG, "text/plain": "<Figure>"},
                    metadata={"image/png": {"width": f"1 onerror={JS}", "height": 1}},
                ),
                *(v4.new_output("display_data", data={"text/html": p}) for p in HTML_PAYLOADS),
                *(
                    v4.new_output("display_data", data={"text/markdown": p})
                    for p in MARKDOWN_PAYLOADS
                ),
                *(v4.new_output("display_data", data={"image/svg+xml": p}) for p in SVG_PAYLOADS),
                v4.new_output("display_data", data={"application/javascript": JS}),
                v4.new_output(
                    "display_data",
                    data={
                        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                        "text/plain": "widget-fallback",
                    },
                ),
                v4.new_output(
                    "display_data",
                    data={"application/scrapbook.scrap.json+json": {"data": "SCRAP-MARKER"}},
                ),
                v4.new_output(
                    "display_data", data={"application/papermill.record/json": "PM-MARKER"}
                ),
                v4.new_output(
                    "display_data",
                    data={"application/vnd.runbook.secret+json": {"ref": "env:SECRET-MARKER"}},
                ),
                v4.new_output("display_data", data={"text/vnd.mermaid": f"</pre><script>{JS}"}),
            ],
        )
    )
    nb.cells.append(
        v4.new_code_cell(
            "HIDDEN_SOURCE_MARKER = 1",
            metadata={"tags": ["remove-input"]},
            outputs=[v4.new_output("stream", text="output-of-hidden-input\n")],
        )
    )
    nb.cells.append(
        v4.new_code_cell(
            "print('REMOVED_OUTPUT_SOURCE')",
            metadata={"tags": ["remove-output"]},
            outputs=[v4.new_output("stream", text="REMOVED-OUTPUT-MARKER\n")],
        )
    )
    nb.cells.append(v4.new_markdown_cell("REMOVED-CELL-MARKER", metadata={"tags": ["remove-cell"]}))
    raw = v4.new_raw_cell(f'<img src=x onerror="{JS}">raw-cell')
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.append(raw)
    attached = v4.new_markdown_cell("![pic](attachment:pic.png) ![page](attachment:page.html)")
    attached["attachments"] = {
        "pic.png": {"image/png": PNG},
        "page.html": {"text/html": base64.b64encode(f"<script>{JS}</script>".encode()).decode()},
    }
    nb.cells.append(attached)
    return nb


def a_run(**changes: Any) -> Run:
    values: dict[str, Any] = {
        "id": "20250301-120000-abc0",
        "plan_id": "p-1",
        "executor": HOSTILE_TEXT,
        "mode": RunMode.INTERACTIVE,
        "state": RunState.SUCCEEDED,
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=2, seconds=5),
        "notebook_path": "runs/20250301-120000-abc0/restart.ipynb",
        "lease_owner": "host:1",
        "message": f"done {HOSTILE_TEXT}",
    }
    return Run(**{**values, **changes})


def events() -> list[CellEvent]:
    def at(second: float) -> datetime:
        return T0 + timedelta(seconds=second)

    return [
        CellEvent("20250301-120000-abc0", 1, "code", CellStatus.SUCCEEDED, ("precheck",),
                  started_at=at(0), ended_at=at(1.5)),
        CellEvent("20250301-120000-abc0", 2, "code", CellStatus.SUCCEEDED, ("confirm",),
                  decision=Decision.YES, decided_by="alice@example.com",
                  started_at=at(2), ended_at=at(4.25)),
        CellEvent("20250301-120000-abc0", 3, "code", CellStatus.SKIPPED, ("confirm",),
                  decision=Decision.SKIP, decided_by=HOSTILE_TEXT),
        CellEvent("20250301-120000-abc0", 4, "code", CellStatus.FAILED, ("verify",),
                  started_at=at(5), ended_at=at(65), error=f"Traceback\nError: {HOSTILE_TEXT}"),
    ]  # fmt: skip


class _Collector(HTMLParser):
    """Every start tag as written and as a browser's tokenizer reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.markup: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self.markup.append(self.get_starttag_text() or "")


def assert_inert(page: str) -> None:
    """No script, handler, script URL or embedding element anywhere in the page's markup.

    Text is text: a link whose href was removed may still read "javascript:..." on screen.
    """
    assert "<script" not in page.lower()
    collector = _Collector()
    collector.feed(page)
    markup = "\n".join(collector.markup).lower()
    for needle in ("javascript:", "vbscript:", "data:text/html", "<iframe", "<object", "<embed"):
        assert needle not in markup, needle
    for needle in ("<foreignobject", "<animate", "<set ", "<base", "<form", "<link"):
        assert needle not in markup, needle
    assert not re.search(r"\son[a-z]+\s*=", markup)
    for tag, attrs in collector.tags:
        assert tag not in {"script", "iframe", "object", "embed", "form", "base", "link"}, tag
        if tag == "meta":
            assert (dict(attrs).get("http-equiv") or "").lower() != "refresh"
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            compact = re.sub(r"\s", "", value or "").lower()
            assert not compact.startswith(("javascript:", "vbscript:", "data:text")), (tag, value)


def test_hostile_notebook_renders_inert_html() -> None:
    assert len(HTML_PAYLOADS) + len(MARKDOWN_PAYLOADS) + len(SVG_PAYLOADS) >= 30
    page = render_html(hostile_notebook(), run=a_run(), events=events())
    assert_inert(page)
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert page.index("Content-Security-Policy") < page.index("<title>")
    assert "PWNED" not in page and "SCRAP-MARKER" not in page and "PM-MARKER" not in page
    assert "SECRET-MARKER" not in page and "widget-state" not in page


def test_legitimate_content_survives() -> None:
    page = render_html(hostile_notebook(), run=a_run(), events=events())
    assert re.search(r"<td>\s*db1\s*</td>", page)  # the markdown table
    assert "kubectl logs &lt;pod&gt;" in page  # code with angle brackets, escaped not dropped
    assert "<b>important</b>" in page
    assert f'src="data:image/png;base64,{PNG}"' in page
    assert "all systems nominal" in page and "widget-fallback" in page
    assert page.count('src="data:image/png;base64,') == 2  # the output and the attachment


def test_summary_shows_timings_and_decisions_escaped() -> None:
    page = render_html(hostile_notebook(), run=a_run(), events=events())
    summary = page[page.index('<section class="rb-summary">') : page.index("</section>")]
    for expected in ("20250301-120000-abc0", "p-1", "interactive", "succeeded", "2 min 5 s"):
        assert expected in summary
    assert "1.50 s" in summary and "2.25 s" in summary and "1 min 0 s" in summary
    assert "confirmed" in summary and "skipped" in summary and "alice@example.com" in summary
    assert "2025-03-01 12:00:00+00:00" in summary
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in summary  # the executor
    assert "Error: &lt;script&gt;" in summary  # the error's last line


def test_tags_remove_input_output_and_cells() -> None:
    page = render_html(hostile_notebook())
    assert "HIDDEN_SOURCE_MARKER" not in page and "output-of-hidden-input" in page
    assert "REMOVED_OUTPUT_SOURCE" in page and "REMOVED-OUTPUT-MARKER" not in page
    assert "REMOVED-CELL-MARKER" not in page
    assert "rb-summary" not in page  # no run, no summary


def test_markdown_report_has_the_summary_and_no_hidden_data() -> None:
    text = render_markdown(hostile_notebook(), run=a_run(), events=events())
    assert "| Cell | Type | Tags | Status | Duration | Decision | By | Error |" in text
    assert "| 2 | code | confirm | succeeded | 2.25 s | confirmed | alice@example.com |  |" in text
    assert "| Executor | &lt;script&gt;alert('x')&lt;/script&gt;" in text
    for gone in ("SCRAP-MARKER", "PM-MARKER", "SECRET-MARKER", "HIDDEN_SOURCE_MARKER"):
        assert gone not in text
    assert "<script" not in text.replace("kubectl logs <pod>", "")
    assert "| host | state |" in text  # plain Markdown stays Markdown


def test_sanitize_notebook_copies_and_cleans() -> None:
    original = hostile_notebook()
    before = nbformat.writes(original)
    clean = sanitize_notebook(original)
    assert nbformat.writes(original) == before
    outputs = clean.cells[-6].outputs
    kinds = {m for o in outputs for m in o.get("data", {})}
    assert not kinds & {"application/javascript", "application/vnd.runbook.secret+json"}
    assert not any(k.startswith(("application/scrapbook", "application/papermill")) for k in kinds)
    assert outputs[2].metadata["image/png"] == {"height": 1}  # the injected width is gone
    assert "widgets" not in clean.metadata
    assert set(clean.cells[-1].attachments) == {"pic.png"}
    assert "attachment:page.html" not in clean.cells[-1].source


def test_plain_markdown_is_left_alone_and_html_in_it_is_cleaned() -> None:
    plain = "# Steps\n\n1. run `kubectl get <pod>`\n2. see [docs](https://example.com)"
    assert clean_markdown(plain) == plain
    cleaned = clean_markdown(f'ok <b>bold</b> <img src=x onerror="{JS}">\n\n```\na\n\nb\n```')
    assert cleaned.startswith('<div class="rb-cleaned">') and "\n" not in cleaned
    assert "<b>bold</b>" in cleaned and "onerror" not in cleaned and "a&#10;&#10;b" in cleaned


def test_write_run_report_writes_html_and_markdown(tmp_path: Path) -> None:
    paths = write_run_report(
        tmp_path, a_run(), events(), hostile_notebook(), formats=("html", "md")
    )
    assert paths == [
        tmp_path / "runs/20250301-120000-abc0/report.html",
        tmp_path / "runs/20250301-120000-abc0/report.md",
    ]
    assert_inert(paths[0].read_text(encoding="utf-8"))
    assert "| Run | 20250301-120000-abc0 |" in paths[1].read_text(encoding="utf-8")


def test_unknown_format_and_missing_chromium_are_report_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ReportError, match="unknown report format"):
        write_run_report(tmp_path, a_run(), [], v4.new_notebook(), formats=("docx",))
    monkeypatch.setenv("RUNBOOK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ReportError, match="PDF export needs Chromium: apt-get install chromium"):
        render_pdf("<p>x</p>", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def _chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium binary (apt-get install chromium, or set RUNBOOK_CHROMIUM)")
    return found


def _dump_dom(chromium: str, page: Path, profile: Path) -> str:
    done = subprocess.run(
        [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *("--disable-component-update", "--disable-sync", "--no-first-run"),
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",  # let timers, onerror and onload fire
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert "</html>" in done.stdout, done.stderr
    return done.stdout


@pytest.mark.browser
def test_no_payload_runs_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    # The control: the same payloads, unsanitized, do run, so the detector works.
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><title>t</title><body>" + "".join(HTML_PAYLOADS))
    assert "PWNED" in _dump_dom(chromium, control, tmp_path / "p1")

    page = render_html(hostile_notebook(), run=a_run(), events=events())
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    dom = _dump_dom(chromium, report, tmp_path / "p2")
    assert "PWNED" not in dom and "important" in dom
    # The sanitizer alone, without the CSP's help, is enough too.
    report.write_text(page.replace("Content-Security-Policy", "x-disabled"), encoding="utf-8")
    assert "PWNED" not in _dump_dom(chromium, report, tmp_path / "p3")


@pytest.mark.browser
def test_render_pdf_prints_a_pdf(tmp_path: Path) -> None:
    _chromium()
    destination = tmp_path / "out" / "report.pdf"
    render_pdf(render_html(hostile_notebook(), run=a_run(), events=events()), destination)
    data = destination.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1024
    assert [p.name for p in destination.parent.iterdir()] == ["report.pdf"]
