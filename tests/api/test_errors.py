"""One JSON shape for every error: the core's, validation, unknown routes, the unexpected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

import runbook.errors as errors
from runbook.api.app import create_app
from runbook.api.permissions import public
from runbook.errors import RunbookError
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.outcomes import status_of
from tests.api.conftest import Tokens
from tests.test_outcomes import ERROR_CLASSES


def _instance(cls: type[RunbookError]) -> RunbookError:
    """An instance of ``cls`` however its constructor is shaped (as unpickling makes one)."""
    error = cls.__new__(cls)
    RunbookError.__init__(error, f"a {cls.__name__}\nover two lines")
    if isinstance(error, errors.RunRefusedError):
        error.cause = errors.PolicyError("refused by a rule")
    return error


@pytest.fixture
def raising(repo: Repository) -> Iterator[TestClient]:
    """The app with a public route raising any error class by name (and one crashing)."""
    app = create_app(repo)
    router = APIRouter()

    @router.get("/raise/{name}", dependencies=[public()])
    def _raise(name: str) -> None:
        if name == "crash":
            raise RuntimeError("secret internals /etc/passwd")
        raise _instance(getattr(errors, name))

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _shape(body: dict[str, object]) -> dict[str, object]:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "status", "kind", "message"}
    assert "\n" not in str(error["message"])
    return error


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_a_runbook_error_has_its_table_status_and_never_500(
    raising: TestClient, cls: type[RunbookError]
) -> None:
    response = raising.get(f"/raise/{cls.__name__}")
    status = status_of(_instance(cls))
    assert response.status_code == status.http != 500
    error = _shape(response.json())
    assert error == {
        "code": status.exit_code,
        "status": status.http,
        "kind": cls.__name__,
        "message": f"a {cls.__name__} over two lines",
    }


def test_an_unexpected_exception_is_a_500_without_internals(raising: TestClient) -> None:
    response = raising.get("/raise/crash")
    assert response.status_code == 500
    error = _shape(response.json())
    assert error["kind"] == "internal"
    assert "passwd" not in response.text and "Traceback" not in response.text


def test_unknown_routes_and_methods_answer_in_the_shape(raising: TestClient) -> None:
    missing = raising.get("/nowhere")
    assert missing.status_code == 404
    assert _shape(missing.json()) == {
        "code": 2,
        "status": 404,
        "kind": "not_found",
        "message": "/nowhere: no such route",
    }
    wrong = raising.delete("/raise/x")
    assert wrong.status_code == 405
    assert _shape(wrong.json())["kind"] == "method_not_allowed"


def test_a_bad_value_names_its_field(app_client: TestClient, tokens: Tokens) -> None:
    auth = Tokens.header(tokens.by_role[Role.VIEWER])
    response = app_client.get("/runs", params={"limit": "zero", "state": "nope"}, headers=auth)
    assert response.status_code == 422
    error = _shape(response.json())
    assert error["kind"] == "validation"
    assert error["code"] == 2
    assert str(error["message"]).startswith("query.")
    assert "(and 1 more)" in str(error["message"])


def test_an_unknown_record_is_a_404_naming_it(app_client: TestClient, tokens: Tokens) -> None:
    auth = Tokens.header(tokens.by_role[Role.VIEWER])
    response = app_client.get("/plans/nothing-abc123", headers=auth)
    assert response.status_code == 404
    error = _shape(response.json())
    assert error["kind"] == "UnknownPlanError"
    assert "nothing-abc123" in str(error["message"])
    escape = app_client.get("/runbooks/..%2F..%2Fetc%2Fpasswd", headers=auth)
    assert escape.status_code in {400, 404}
    assert _shape(escape.json())["kind"] in {"PathEscapeError", "UnknownRunbookError", "not_found"}
