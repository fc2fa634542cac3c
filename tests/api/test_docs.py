"""``/docs``: Swagger UI served by the app itself, no CDN, under a strict CSP.

In process: the page and every URL it references (scripts, styles, icons, the script that
starts it, the OpenAPI document it loads) are on the app's own host and answer 200.
In Chromium, against a real ``runbook serve``: the page draws the operations, and the
browser reports no Content-Security-Policy violation.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.api.routes.docs import CSP
from runbook.engine.report import find_chromium
from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1


def test_docs_and_every_asset_it_references_come_from_the_app(repo: Repository) -> None:
    with TestClient(create_app(repo)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP
        references = _References()
        references.feed(page.text)
        assert references.inline_scripts == 0  # script-src 'self' allows none
        init = client.get("/docs/init.js")
        # The document the page loads, named in the script that starts it.
        urls = [*references.urls, "/docs/init.js", *re.findall(r'url: "([^"]+)"', init.text)]
        assert "/openapi.json" in urls and any(u.endswith(".js") for u in urls)
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), f"{url} is off-host"
            answer = client.get(url)
            assert answer.status_code == 200, url
        assert "cdn" not in page.text.lower()
        assert client.get("/docs/assets/index.html").status_code == 404  # a fixed list
        assert client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404
        assert client.get("/redoc").status_code == 404


@pytest.fixture
def serving(repo: Repository) -> Iterator[str]:
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0", "--kernel-pool", "0"],
        cwd=repo.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    url = None
    for line in server.stderr:
        found = re.search(r"Uvicorn running on (http://\S+)", line)
        if found:
            url = found.group(1)
            break
    try:
        assert url is not None, "runbook serve exited before listening"
        yield url
    finally:
        server.terminate()
        server.wait(60)
        server.stderr.close()


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_draws_the_operations_in_chromium(serving: str, tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (apt-get install chromium, or set RUNBOOK_CHROMIUM)")
    done = subprocess.run(
        [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *("--disable-component-update", "--disable-sync", "--no-first-run"),
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",  # the bundle loads, fetches the document, draws
            "--dump-dom",
            f"{serving}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert 'class="opblock-summary-path"' in done.stdout or "opblock-tag" in done.stdout, (
        done.stderr[-2000:]
    )
    assert "/runs" in done.stdout
    assert "Content Security Policy" not in done.stderr, done.stderr[-2000:]
