"""schemathesis over the published OpenAPI document: no operation answers with a server error,
and every answer conforms to the document (status, content type, body schema).

The operations are driven from inside one test with hypothesis (``as_strategy``): the
pytest integration's fixture loader does not run under pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from runbook.api.app import create_app
from runbook.api.permissions import PUBLIC, app_routes, route_permission
from runbook.model.repository import Repository
from runbook.model.roles import Role
from tests.api.conftest import Records, Tokens, with_service


@pytest.fixture
def api_schema(repo: Repository, records: Records) -> Iterator[Any]:
    # schemathesis sends made-up bearer tokens where the document declares the scheme:
    # hundreds of failures from one address, which the throttle would answer with 429s.
    app = create_app(with_service(repo, "failed_auth_limit = 0"))
    with TestClient(app):  # runs the lifespan: the store is open for the fuzzer's calls
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10  # every read route is in the document
    return found


def fuzz(operation: Any, headers: dict[str, str], excluded: list[Any]) -> None:
    """Call ``operation`` with schema-valid data; every response must pass the checks."""

    @given(case=operation.as_strategy())
    @settings(max_examples=25, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    call()


@pytest.mark.slow
def test_no_operation_fails_on_the_server(api_schema: Any, tokens: Tokens) -> None:
    headers = Tokens.header(tokens.by_role[Role.ADMIN])
    for operation in operations(api_schema):
        # What the document cannot say: /audit takes a run or a plan, not both (a 400 naming
        # it); /plans?runbook= names a path inside the repository (a 400 otherwise); and a
        # creating request's values are judged by the core (no such runbook, a value outside
        # its type: a 400 or 422 naming it). Every other check runs everywhere.
        judged = operation.path in {"/audit", "/plans"} or operation.method.upper() == "POST"
        fuzz(operation, headers, [positive_data_acceptance] if judged else [])


def test_no_operation_answers_without_credentials(api_schema: Any, repo: Repository) -> None:
    public = {r.path for r in app_routes(create_app(repo)) if route_permission(r) == PUBLIC}
    for operation in operations(api_schema):
        if operation.path in public:
            continue  # the probes (tests/api/test_operations.py)

        @given(case=operation.as_strategy())
        @settings(max_examples=20, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            response = case.call()
            # A path value with a line break matches no route: a 404 before any credential.
            # schemathesis may hand the value over percent-encoded ("%0A"): judge it decoded.
            unroutable = any(
                not unquote(str(v)).isprintable() for v in (case.path_parameters or {}).values()
            )
            assert response.status_code == 401 or (unroutable and response.status_code == 404), (
                case.path,
                case.path_parameters,
                response.text,
            )

        call()
