"""The pages under test: the app on a repository, served by a real uvicorn on loopback,
a token per user, and the system's Chromium driven by Playwright (never a downloaded one).

Screenshots go to ``$SCREENSHOTS_DIR`` when set (to look at while building the pages),
else to the test's temporary folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token

CHROMIUM = "/usr/bin/chromium"
#: Who signs in, as whom and with which role.
USERS = {
    "olive": Role.OPERATOR,
    "rita": Role.REVIEWER,
    "vic": Role.VIEWER,
    "otto": Role.OPERATOR,
    "ada": Role.ADMIN,
}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Served:
    """The app under uvicorn: its base URL and the app itself."""

    url: str
    app: FastAPI


def serve(app: FastAPI) -> Iterator[Served]:
    """``app`` under uvicorn on a free loopback port, until the generator is closed."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    started = threading.Event()
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert started.wait(60)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(30)


@pytest.fixture
def secrets(session: Session) -> dict[str, str]:
    """An API token per user of :data:`USERS`."""
    made = {
        user: create_token(session, user=user, role=role, created_by="root").secret
        for user, role in USERS.items()
    }
    session.commit()
    return made


@pytest.fixture
def served(repo: Repository, secrets: dict[str, str]) -> Iterator[Served]:
    """The app on ``repo`` under uvicorn."""
    yield from serve(create_app(repo))


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where this test's screenshots go."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """The system's Chromium under Playwright, headless, for one test module: while
    Playwright's sync API lives, its event loop is this thread's running loop, and every
    asyncio.run() of another test on the same worker (the CLI's, the API's) would fail."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def sign_in(browser: Any, served: Served, secret: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A new browser context signed in with ``secret`` through the sign-in form; its page."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{served.url}/ui/login")
    page.fill("#token", secret)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/ui/search")
    return page
