"""Plan, review and run from the pages, in three browser contexts at once, with real
kernels: a wrong value refused next to its field, a reviewer approving, the planner
starting the run and confirming its gate while a viewer watches it live, the report; and a
cell printing script payloads that run nowhere (a canary shows they would have been seen).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from runbook.engine.report import report_path
from runbook.model.repository import Repository, find_repository
from runbook.orchestrate.catalog.alerts import receive_alert
from runbook.orchestrate.catalog.catalog_files import import_catalog
from runbook.store.runs import get_run
from tests.api.pages.conftest import DESKTOP, PHONE, Served, serve, sign_in
from tests.builders import write_runbook
from tests.orchestrate.catalog.catalog_setup import alert, sessions_of

pytestmark = [pytest.mark.browser, pytest.mark.kernel, pytest.mark.slow]

CANARY = "http://canary.invalid"
#: What a hostile system could make a cell print: each would set window.__pwned and call
#: the canary if it ran as markup.
PAYLOAD = (
    f"<script>window.__pwned = 'script'; fetch('{CANARY}/script')</script>"
    f"<img src=x onerror=\"window.__pwned = 'img'; fetch('{CANARY}/img')\">"
)
#: Restarting is a platform procedure; checkout overrides it with its replicas label.
CATALOG: dict[str, Any] = {
    "services": [
        {"name": "checkout", "team": "payments"},
        {"name": "billing", "team": "payments"},
    ],
    "error_codes": [
        {
            "code": "E-RESTART",
            "title": "Service stopped answering",
            "severity": "critical",
            "description": "Health checks fail for five minutes.",
            "check_first": "Is the database up?",
        }
    ],
    "procedures": [
        {
            "name": "restart-platform",
            "code": "E-RESTART",
            "runbook": "restart",
            "parameters": {"service": "{{ labels.instance }}"},
            "policy": "manual",
        },
        {
            "name": "restart-checkout",
            "code": "E-RESTART",
            "for": "service:checkout",
            "runbook": "restart",
            "parameters": {
                "service": "{{ labels.instance }}",
                "replicas": "{{ labels.replicas }}",
            },
            "policy": "manual",
        },
    ],
}
#: A hang guard for a step that waits on the page (a kernel runs the cells), not a speed.
WAIT = 120_000


@pytest.fixture
def reviewed_repo(repo: Repository) -> Repository:
    """The repository with every plan needing a review, and the restart runbook."""
    config = repo.root / "runbook.toml"
    text = config.read_text("utf-8").replace('require = "tagged"', 'require = "all"', 1)
    config.write_text(text, "utf-8")
    write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [
            ("markdown", "# Restart\nRestarts **one** service, then checks it.", []),
            ("code", "service = 'web'\nreplicas = 1", ["parameters"]),
            ("code", "print('checking', service)", []),
            ("code", "print('restarting', service, 'x', replicas)", ["confirm"]),
            ("code", f"print({PAYLOAD!r})", []),
        ],
        parameters={
            "service": {"type": "str", "help": "The service to restart.", "required": True},
            "replicas": {"type": "int", "default": 1, "help": "How many replicas to start."},
        },
        title="Restart a service",
    )
    (repo.root / "catalog" / "catalog.yml").write_text(yaml.safe_dump(CATALOG), "utf-8")
    fresh = find_repository(repo.root)
    with sessions_of(fresh) as sessions:
        with sessions.begin() as session:
            import_catalog(session, fresh, imported_by="ada")
        # An alert for checkout whose labels map to a wrong replicas value.
        firing = alert(service="checkout", instance="db", error_code="E-RESTART", replicas="lots")
        receive_alert(sessions, fresh, firing)
        # And one for a service the catalog does not know: a gap.
        stray = alert(service="nobody", instance="x", error_code="E-RESTART", fingerprint="f2")
        receive_alert(sessions, fresh, stray)
    return fresh


@pytest.fixture
def live(reviewed_repo: Repository, secrets: dict[str, str]) -> Any:
    """The app on the reviewed repository, under uvicorn."""
    from runbook.api.app import create_app

    yield from serve(create_app(reviewed_repo))


def wait_for_file(path: Path) -> None:
    """Until ``path`` exists (the run process writes the report as the run ends): a poll
    bounded by a deadline only a hang reaches."""
    deadline = time.monotonic() + WAIT / 1000
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.05)


def watch_canary(context: Any) -> list[str]:
    """Every request the context's pages make to the canary (answered, so a script goes on)."""
    hits: list[str] = []

    def record(route: Any) -> None:
        hits.append(route.request.url)
        route.fulfill(status=204)

    context.route(f"{CANARY}/**", record)
    return hits


def test_the_canary_fires_on_an_unsanitized_page(chromium: Any) -> None:
    """The control: the same payload on a page without our escaping or CSP runs, and the
    canary sees it: so its silence below means something."""
    context = chromium.new_context()
    hits = watch_canary(context)
    page = context.new_page()
    page.set_content(f"<html><body>{PAYLOAD}</body></html>")
    page.wait_for_function("window.__pwned !== undefined", timeout=WAIT)
    context.close()
    assert hits, "the control page should have called the canary"


def test_plan_review_run_and_confirm_from_three_browsers(
    chromium: Any,
    live: Served,
    reviewed_repo: Repository,
    session: Session,
    secrets: dict[str, str],
    screenshots: Path,
) -> None:
    planner = sign_in(chromium, live, secrets["olive"])
    planner_hits = watch_canary(planner.context)

    # Search: service and error code, completed from the catalog.
    assert planner.locator("#services option").count() == 2
    planner.fill("#service", "checkout")
    planner.fill("#code", "E-RESTART")
    planner.get_by_test_id("lookup").click()
    planner.wait_for_url(f"{live.url}/ui/catalog/checkout/E-RESTART")
    assert "a service override" in planner.get_by_test_id("procedure").inner_text()
    assert "restart-platform" in planner.get_by_test_id("why").inner_text()
    assert "Restarts" in planner.locator("div.markdown").inner_text()
    planner.screenshot(path=screenshots / "entry-desktop.png", full_page=True)

    # From the alert: the form prefilled through the rule's mapping, one value wrong.
    planner.locator("a[href^='?alert=']").first.click()
    planner.get_by_test_id("from-alert").wait_for()
    assert planner.input_value("#p-service") == "db"
    assert planner.input_value("#p-replicas") == "lots"
    planner.set_viewport_size(PHONE)
    planner.screenshot(path=screenshots / "entry-from-alert-phone.png", full_page=True)
    planner.set_viewport_size(DESKTOP)
    # A wrong value: refused next to its field, the other value kept.
    planner.get_by_role("button", name="Plan it").click()
    error = planner.get_by_test_id("error-replicas")
    assert "not a valid int" in error.inner_text()
    assert planner.input_value("#p-service") == "db"
    planner.screenshot(path=screenshots / "plan-form-error-desktop.png", full_page=True)
    planner.set_viewport_size(PHONE)
    planner.screenshot(path=screenshots / "plan-form-error-phone.png", full_page=True)
    planner.set_viewport_size(DESKTOP)

    # The right value: a plan, which waits for a review.
    planner.fill("#p-replicas", "3")
    planner.get_by_role("button", name="Plan it").click()
    planner.wait_for_url(f"{live.url}/ui/plans/**")
    plan_url = planner.url
    assert planner.get_by_test_id("start-run").count() == 0
    assert planner.get_by_test_id("approve").count() == 0

    # A second user approves in another context.
    reviewer = sign_in(chromium, live, secrets["rita"])
    reviewer.goto(plan_url)
    reviewer.fill("#comment", "replicas 3 is what we agreed")
    reviewer.get_by_test_id("approve").click()
    review = reviewer.get_by_test_id("review")
    assert "rita" in review.inner_text()
    assert "claimed" in review.inner_text()
    reviewer.screenshot(path=screenshots / "plan-approved-desktop.png", full_page=True)

    # The planner starts the run; a viewer watches it from a third context.
    planner.reload()
    planner.get_by_test_id("start-run").click()
    planner.wait_for_url(f"{live.url}/ui/runs/**")
    run_url = planner.url
    watcher = sign_in(chromium, live, secrets["vic"], viewport=PHONE)
    watcher_hits = watch_canary(watcher.context)
    watcher.goto(run_url)

    # At the confirm cell: its source and values, and the decisions for those who may.
    gate = planner.get_by_test_id("gate")
    gate.wait_for(state="visible", timeout=WAIT)
    assert "restarting" in planner.locator("#gate-source").inner_text()
    assert "'db'" in planner.locator("#gate-values").inner_text()
    buttons = planner.locator("#gate-buttons button")
    assert buttons.all_inner_texts() == ["yes", "skip", "abort", "rollback"]
    watcher.get_by_test_id("gate").wait_for(state="visible", timeout=WAIT)
    assert watcher.locator("#gate-buttons button").count() == 0
    assert "checking db" in planner.locator("#cells").inner_text()
    planner.screenshot(path=screenshots / "run-gate-desktop.png", full_page=True)
    watcher.screenshot(path=screenshots / "run-gate-phone.png", full_page=True)

    planner.locator("#gate-buttons button", has_text="yes").click()
    # The viewer's page shows the decision as it is made, without a reload.
    watcher.get_by_text("yes by olive").wait_for(timeout=WAIT)
    for page in (planner, watcher):
        expect(page.get_by_test_id("run-state")).to_have_text("succeeded", timeout=WAIT)
    shown = watcher.locator("#cells").inner_text()
    assert "restarting db x 3" in shown
    assert "<script>" in shown and "onerror" in shown  # shown as text
    watcher.screenshot(path=screenshots / "run-finished-phone.png", full_page=True)

    # The report opens, under its own CSP; nothing anywhere ran the payload.
    run_id = run_url.rsplit("/", 1)[1]
    run = get_run(session, run_id)
    session.rollback()  # no read lock held on the SQLite store while the server works
    report = report_path(reviewed_repo.root, run, "html")
    wait_for_file(report)
    planner.get_by_test_id("report").click()
    planner.wait_for_url(f"{run_url}/report")
    assert "restarting db x 3" in planner.content()
    planner.screenshot(path=screenshots / "report-desktop.png", full_page=True)
    for page in (planner, watcher):
        assert page.evaluate("window.__pwned") is None
    assert planner_hits == [] and watcher_hits == []

    # The audit log has the run, and its chain verifies.
    planner.goto(f"{live.url}/ui/audit")
    assert "verified" in planner.get_by_test_id("verdict").inner_text()
    assert "run.finished" in planner.get_by_test_id("events").inner_text()
    planner.screenshot(path=screenshots / "audit-desktop.png", full_page=True)


def test_free_text_finds_codes_and_runbook_content(
    chromium: Any, live: Served, secrets: dict[str, str], screenshots: Path
) -> None:
    page = sign_in(chromium, live, secrets["vic"], viewport=PHONE)
    page.fill("#q", "stopped answering")
    page.get_by_test_id("search").click()
    assert "E-RESTART" in page.get_by_test_id("results").inner_text()
    page.fill("#q", "checking")  # only in a code cell of the runbook
    page.get_by_test_id("search").click()
    results = page.get_by_test_id("results")
    assert "Restart a service" in results.inner_text()
    page.screenshot(path=screenshots / "search-phone.png", full_page=True)
    # A viewer reads the entry but gets no plan form.
    page.goto(f"{live.url}/ui/catalog/checkout/E-RESTART")
    assert page.locator("form.plan-form").count() == 0
    page.goto(f"{live.url}/ui/catalog/nobody/E-RESTART")
    assert page.get_by_role("alert").is_visible()
    # Alerts with what was done; the gaps view has only the one nothing answered.
    page.goto(f"{live.url}/ui/alerts")
    listed = page.get_by_test_id("alerts").inner_text()
    assert "restart-checkout" in listed and "nobody" in listed
    page.get_by_role("link", name="Only the catalog's gaps").click()
    gaps = page.get_by_test_id("alerts").inner_text()
    assert "nobody" in gaps and "restart-checkout" not in gaps
    page.screenshot(path=screenshots / "gaps-phone.png", full_page=True)
    # A viewer has no audit permission: no link, and the page is refused.
    assert page.get_by_role("link", name="Audit").count() == 0
    assert page.goto(f"{live.url}/ui/audit").status == 403
