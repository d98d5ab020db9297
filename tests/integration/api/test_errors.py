"""Every 4xx/5xx answers with the one error body; the request's unit of work commits once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.models import UserGroup
from tests.integration.api.helpers import TestUser, assert_error


def test_unknown_route_is_404_with_error_body(client: TestClient) -> None:
    """An unknown path gets the error body, not Starlette's {"detail"}."""
    assert_error(client.get("/api/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client: TestClient) -> None:
    """A known path with the wrong method is a 405 that says which methods exist."""
    response = client.delete("/api/health")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_body_validation_lists_loc_and_msg(client: TestClient) -> None:
    """FastAPI's validation error becomes 422 validation_error with [{loc, msg}]."""
    response = client.post("/api/auth/token", json={"username": 7})
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [
        {"loc": ["body", "username"], "msg": "Input should be a valid string"},
        {"loc": ["body", "password"], "msg": "Field required"},
    ]


def test_malformed_json_is_422(client: TestClient) -> None:
    """A body that is not JSON at all is a validation error too, never a 500."""
    response = client.post(
        "/api/auth/token", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["loc"][0] == "body"


def test_unexpected_exception_is_generic_500(probe_client: TestClient) -> None:
    """An unhandled error is logged; the body names no internals."""
    response = probe_client.get("/api/probe/raise/boom")
    error = assert_error(response, 500, "internal_error")
    assert error == {"code": "internal_error", "message": "Internal server error", "details": []}
    assert "hunter2" not in response.text and "Traceback" not in response.text


def test_stale_data_is_409_concurrent_update(probe_client: TestClient) -> None:
    """A lost optimistic-lock race is a 409 the client can retry."""
    assert_error(probe_client.get("/api/probe/raise/stale"), 409, "concurrent_update")


def test_locked_database_is_503_with_retry_after(probe_client: TestClient) -> None:
    """SQLite's "database is locked" is a temporary 503, not a raw lock error."""
    response = probe_client.get("/api/probe/raise/locked")
    assert_error(response, 503, "database_busy")
    assert response.headers["retry-after"] == "1"


def test_other_operational_error_is_503(probe_client: TestClient) -> None:
    """A database that cannot be reached is a 503 without the driver's message."""
    response = probe_client.get("/api/probe/raise/down")
    assert_error(response, 503, "database_unavailable")
    assert "refused" not in response.text


def test_unstorable_value_is_422(probe_client: TestClient) -> None:
    """A value the database refuses (NUL in PostgreSQL text) is the client's 422, not a 500."""
    response = probe_client.get("/api/probe/raise/nul")
    assert_error(response, 422, "unstorable_value")
    assert "NUL" not in response.text


def test_nul_byte_in_path_is_not_a_500(client: TestClient, admin: TestUser) -> None:
    """A NUL byte in an id is answered as a client error on every database."""
    dialect = client.app.state.session_factory.kw["bind"].dialect.name  # type: ignore[attr-defined]
    # SQLite stores NUL and finds nothing; PostgreSQL refuses NUL in text outright.
    status, code = {"sqlite": (404, "not_found"), "postgresql": (422, "unstorable_value")}[dialect]
    assert_error(client.get("/api/instances/a%00b", headers=admin.headers), status, code)


def test_domain_conflict_keeps_subclass_code(probe_client: TestClient) -> None:
    """A ConflictError subclass is a 409 with its own code."""
    error = assert_error(probe_client.get("/api/probe/raise/claimed"), 409, "task_already_claimed")
    assert error["message"] == "task taken by anna"


def test_domain_validation_keeps_details(probe_client: TestClient) -> None:
    """ValidationFailed is a 422 that passes its details through."""
    error = assert_error(probe_client.get("/api/probe/raise/invalid"), 422, "validation_failed")
    assert error["details"] == [{"loc": ["amount"], "msg": "big"}]


def test_domain_not_found_is_404(probe_client: TestClient) -> None:
    """NotFoundError is a 404 with its message."""
    error = assert_error(probe_client.get("/api/probe/raise/missing"), 404, "not_found")
    assert error["message"] == "no such thing"


def test_failed_request_rolls_back_its_writes(
    probe_client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """Work flushed before an error is not committed."""
    assert_error(probe_client.post("/api/probe/write-then-fail"), 404, "not_found")
    with session_factory() as session:
        assert session.get(UserGroup, "ghost") is None


def test_successful_request_commits(
    probe_client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """A successful request commits without the route calling commit."""
    response = probe_client.post("/api/probe/write")
    assert response.status_code == 200 and response.json() == {"name": "kept"}
    with session_factory() as session:
        group = session.get(UserGroup, "kept")
        assert group is not None and group.title == "persists"
