"""Incidents: list with filters, retry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.models import Incident, ProcessDefinition, ProcessInstance
from tests.integration.api.conftest import MakeUser
from tests.integration.api.helpers import TestUser, assert_error


@pytest.fixture
def incidents(session_factory: sessionmaker[Session]) -> list[int]:
    """Two open incidents and one resolved, on two instances (rows written directly)."""
    with session_scope(session_factory) as session:
        definition = ProcessDefinition(key="p", version=1, content_hash="h", bpmn_xml="<x/>")
        session.add(definition)
        session.flush()
        for instance_id in ("i-1", "i-2"):
            session.add(
                ProcessInstance(id=instance_id, definition_id=definition.id, key="p", version=1)
            )
        session.flush()
        rows = [
            Incident(
                instance_id="i-1",
                element_id="ship",
                operator="cdek.create_order",
                error_code="timeout",
                message="CDEK timed out",
                attempts=5,
            ),
            Incident(
                instance_id="i-2",
                element_id="pay",
                error_code="script_error",
                message="name 'x' is not defined",
                attempts=1,
            ),
            Incident(
                instance_id="i-1",
                element_id="sms",
                error_code="bad_phone",
                message="invalid phone",
                attempts=1,
                state="resolved",
            ),
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _ids(client: TestClient, user: TestUser, **params: str) -> list[int]:
    response = client.get("/api/incidents", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_shape(client: TestClient, analyst: TestUser, incidents: list[int]) -> None:
    """Items carry the fields of API.md."""
    body = client.get("/api/incidents", headers=analyst.headers).json()
    first = body["items"][0]
    assert first["id"] == incidents[0]
    assert {
        k: first[k]
        for k in (
            "instance_id",
            "element_id",
            "operator",
            "error_code",
            "message",
            "attempts",
            "state",
        )
    } == {
        "instance_id": "i-1",
        "element_id": "ship",
        "operator": "cdek.create_order",
        "error_code": "timeout",
        "message": "CDEK timed out",
        "attempts": 5,
        "state": "open",
    }
    assert first["created_at"]


def test_list_filters(client: TestClient, analyst: TestUser, incidents: list[int]) -> None:
    """instance_id and state narrow the list."""
    open_1, open_2, resolved = incidents
    assert _ids(client, analyst) == [open_1, open_2, resolved]
    assert _ids(client, analyst, state="open") == [open_1, open_2]
    assert _ids(client, analyst, state="resolved") == [resolved]
    assert _ids(client, analyst, instance_id="i-1") == [open_1, resolved]
    assert _ids(client, analyst, instance_id="i-1", state="open") == [open_1]


def test_list_bad_state_is_422(client: TestClient, analyst: TestUser) -> None:
    """Only open and resolved are states."""
    response = client.get("/api/incidents", params={"state": "closed"}, headers=analyst.headers)
    assert_error(response, 422, "validation_error")


def test_list_needs_a_scope(client: TestClient, make_user: MakeUser) -> None:
    """A token with neither incidents nor read is a 403."""
    bot = make_user("bot", roles=("manager",), scopes=("tasks",))
    assert_error(client.get("/api/incidents", headers=bot.headers), 403, "forbidden")


def test_retry_unknown_is_404(client: TestClient, analyst: TestUser) -> None:
    """Retrying an unknown incident is a 404."""
    assert_error(client.post("/api/incidents/999/retry", headers=analyst.headers), 404, "not_found")


def test_retry_needs_incidents_scope(
    client: TestClient, reviewer: TestUser, incidents: list[int]
) -> None:
    """Managers (read only) may not retry."""
    response = client.post(f"/api/incidents/{incidents[0]}/retry", headers=reviewer.headers)
    assert_error(response, 403, "forbidden")
