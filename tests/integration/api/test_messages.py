"""POST /api/messages: deliver to a waiting instance, start by message, 404 otherwise."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import Deploy, MakeUser
from tests.integration.api.helpers import TestUser, assert_error


@pytest.fixture(autouse=True)
def _messages(deploy: Deploy) -> None:
    deploy("messages.bpmn")


def _send(
    client: TestClient, user: TestUser, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/messages", json=body, headers=headers)


def _await_payment(client: TestClient, user: TestUser, order_id: str) -> str:
    body = {"variables": {"order_id": order_id}, "business_key": order_id}
    response = client.post(
        "/api/processes/await_payment/instances", json=body, headers=user.headers
    )
    assert response.status_code == 201 and response.json()["status"] == "waiting"
    instance_id: str = response.json()["id"]
    return instance_id


PAID = {"name": "payment_received", "variables": {"paid": "1490.00"}}


def test_delivers_to_the_correlated_instance(client: TestClient, reviewer: TestUser) -> None:
    """Only the instance waiting with the same correlation values receives the message."""
    target = _await_payment(client, reviewer, "A-17")
    other = _await_payment(client, reviewer, "B-18")
    response = _send(client, reviewer, {**PAID, "correlation": {"order_id": "A-17"}})
    assert response.status_code == 200, response.text
    assert response.json() == {"delivered_to": [target], "started": []}
    done = client.get(f"/api/instances/{target}", headers=reviewer.headers).json()
    assert done["status"] == "completed" and done["variables"]["paid"] == "1490.00"
    waiting = client.get(f"/api/instances/{other}", headers=reviewer.headers).json()
    assert waiting["status"] == "waiting"


def test_starts_process_with_message_start_event(client: TestClient, reviewer: TestUser) -> None:
    """Nobody waiting but a message start event: a new instance is started."""
    response = _send(client, reviewer, {"name": "inbound_test", "variables": {"text": "hi"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["delivered_to"] == [] and len(body["started"]) == 1
    started = client.get(f"/api/instances/{body['started'][0]}", headers=reviewer.headers).json()
    assert started["key"] == "inbound_start" and started["variables"]["text"] == "hi"


def test_no_subscription_is_404(client: TestClient, reviewer: TestUser) -> None:
    """No waiting instance and no start event: 404 no_matching_subscription."""
    response = _send(client, reviewer, {**PAID, "correlation": {"order_id": "nobody"}})
    error = assert_error(response, 404, "no_matching_subscription")
    assert "payment_received" in error["message"]


def test_message_needs_send_scope(client: TestClient, make_user: MakeUser) -> None:
    """A token without messages:send is a 403."""
    bot = make_user("bot", roles=("manager",), scopes=("tasks",))
    assert_error(_send(client, bot, PAID), 403, "forbidden")


def test_message_without_name_is_422(client: TestClient, reviewer: TestUser) -> None:
    """The message name is required."""
    error = assert_error(_send(client, reviewer, {"correlation": {}}), 422, "validation_error")
    assert error["details"][0]["loc"] == ["body", "name"]


def test_idempotent_message_is_delivered_once(client: TestClient, reviewer: TestUser) -> None:
    """A repeated message under one key replays the answer instead of a second delivery."""
    target = _await_payment(client, reviewer, "A-17")
    body = {**PAID, "correlation": {"order_id": "A-17"}}
    first = _send(client, reviewer, body, key="pay-A-17")
    again = _send(client, reviewer, body, key="pay-A-17")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == {"delivered_to": [target], "started": []}
    # Without the key the repeat finds nobody waiting any more.
    assert_error(_send(client, reviewer, body), 404, "no_matching_subscription")
