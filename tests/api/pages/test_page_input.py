"""Bad input to the pages' forms: a page with the reason (or a redirect when it was fine),
never a server error, whatever the text."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from tests.api.conftest import Records, Tokens
from tests.api.pages.test_page_permissions import sign_in

TEXT = st.text(max_size=80)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runbook=st.one_of(st.just("restart"), TEXT), value=TEXT, name=TEXT)
def test_the_plan_form_answers_any_text_without_a_server_error(
    repo: Repository, records: Records, tokens: Tokens, runbook: str, value: str, name: str
) -> None:
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        csrf = sign_in(client, tokens.by_role[Role.OPERATOR])
        form = {"csrf": csrf, "runbook": runbook, "p.service": value, f"p.{name}": value}
        answer = client.post("/ui/plans", data=form, follow_redirects=False)
        assert answer.status_code in (303, 400, 404, 422), (answer.status_code, answer.text)
        if answer.status_code != 303:
            assert answer.headers["content-type"].startswith("text/html")
            assert "Traceback" not in answer.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=TEXT, next_page=TEXT)
def test_the_sign_in_form_answers_any_text_without_a_server_error(
    repo: Repository, records: Records, token: str, next_page: str
) -> None:
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        form = client.get("/ui/login").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        data = {"csrf": csrf, "token": token, "next": next_page}
        answer = client.post("/ui/login", data=data, follow_redirects=False)
        assert answer.status_code == 401, answer.text
        assert "runbook_session" not in answer.headers.get("set-cookie", "")
