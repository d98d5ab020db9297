"""Incidents: list with filters, retry."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.models import Incident, ProcessDefinition, ProcessInstance
from tests.integration.api.conftest import REVIEW_FILES, Deploy, MakeUser
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


def _failed_review(client: TestClient, user: TestUser, deploy: Deploy) -> dict[str, Any]:
    """Start review.bpmn without `amount`: its script task fails into an incident."""
    deploy(*REVIEW_FILES)
    response = client.post("/api/processes/review/instances", json={}, headers=user.headers)
    assert response.status_code == 201, response.text
    instance: dict[str, Any] = response.json()
    assert instance["status"] == "error"
    return instance


def test_failed_script_is_listed_as_incident(
    client: TestClient, admin: TestUser, deploy: Deploy
) -> None:
    """A script failure shows up in the instance and in the incident list."""
    instance = _failed_review(client, admin, deploy)
    [incident] = instance["incidents"]
    assert (incident["element_id"], incident["error_code"]) == ("prepare", "script_error")
    assert "amount" in incident["message"]
    listed = client.get(
        "/api/incidents", params={"instance_id": instance["id"]}, headers=admin.headers
    )
    assert [i["id"] for i in listed.json()["items"]] == [incident["id"]]


def test_retry_resolves_and_reruns(client: TestClient, admin: TestUser, deploy: Deploy) -> None:
    """Retry resolves the incident and runs the step again; failing again opens a new one."""
    instance = _failed_review(client, admin, deploy)
    incident_id = instance["incidents"][0]["id"]
    response = client.post(f"/api/incidents/{incident_id}/retry", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == incident_id and response.json()["state"] == "resolved"
    again = client.get(f"/api/instances/{instance['id']}", headers=admin.headers).json()
    assert [i["id"] for i in again["incidents"]] != [incident_id]
    assert again["incidents"][0]["element_id"] == "prepare"


def test_retry_resolved_is_409(client: TestClient, admin: TestUser, deploy: Deploy) -> None:
    """A resolved incident cannot be retried."""
    instance = _failed_review(client, admin, deploy)
    url = f"/api/incidents/{instance['incidents'][0]['id']}/retry"
    assert client.post(url, headers=admin.headers).status_code == 200
    assert_error(client.post(url, headers=admin.headers), 409, "incident_resolved")
