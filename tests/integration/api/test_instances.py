"""Instances: start, list with filters, read, history, terminate, diagram."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import REVIEW_FILES, Deploy, MakeUser
from tests.integration.api.helpers import TestUser, assert_error


@pytest.fixture(autouse=True)
def _review(deploy: Deploy) -> None:
    deploy(*REVIEW_FILES)


def _start(
    client: TestClient, user: TestUser, amount: int = 70, business_key: str | None = "Q-7"
) -> httpx.Response:
    body: dict[str, Any] = {"variables": {"amount": amount}, "business_key": business_key}
    return client.post("/api/processes/review/instances", json=body, headers=user.headers)


def test_start_returns_201_instance(client: TestClient, reviewer: TestUser) -> None:
    """Starting runs to the user task and answers with the instance shape of API.md."""
    response = _start(client, reviewer)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "key",
        "version",
        "business_key",
        "status",
        "variables",
        "active",
        "incidents",
        "created_at",
        "ended_at",
    }
    assert (body["key"], body["version"], body["business_key"]) == ("review", 1, "Q-7")
    assert body["status"] == "waiting" and body["ended_at"] is None
    assert body["variables"] == {"amount": 70, "total": 140, "accepted_by": "system"}
    [active] = body["active"]
    assert (active["element_id"], active["name"], active["type"]) == (
        "review_order",
        "Review order",
        "UserTask",
    )
    assert active["since"].endswith(("Z", "+00:00"))


def test_start_unknown_process_is_404(client: TestClient, reviewer: TestUser) -> None:
    """An unknown key is a 404."""
    response = client.post("/api/processes/nope/instances", json={}, headers=reviewer.headers)
    assert_error(response, 404, "not_found")


def test_start_unknown_version_is_404(client: TestClient, reviewer: TestUser) -> None:
    """An unknown ?version is a 404."""
    response = client.post(
        "/api/processes/review/instances", params={"version": 5}, json={}, headers=reviewer.headers
    )
    assert_error(response, 404, "not_found")


def test_start_with_bad_body_is_422(client: TestClient, reviewer: TestUser) -> None:
    """Variables must be an object."""
    response = client.post(
        "/api/processes/review/instances", json={"variables": [1]}, headers=reviewer.headers
    )
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["body", "variables"]


def test_start_needs_start_scope(client: TestClient, make_user: MakeUser) -> None:
    """A token without processes:start is a 403."""
    bot = make_user("bot", roles=("manager",), scopes=("tasks",))
    assert_error(_start(client, bot), 403, "forbidden")


def test_start_is_idempotent_with_key(client: TestClient, reviewer: TestUser) -> None:
    """The same key and body return the same instance; only one exists."""
    headers = {**reviewer.headers, "Idempotency-Key": "start-Q-7"}
    body = {"variables": {"amount": 70}, "business_key": "Q-7"}
    first = client.post("/api/processes/review/instances", json=body, headers=headers)
    again = client.post("/api/processes/review/instances", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    listed = client.get("/api/instances", headers=reviewer.headers).json()
    assert [i["id"] for i in listed["items"]] == [first.json()["id"]]


def test_read_instance(client: TestClient, reviewer: TestUser) -> None:
    """GET by id returns what the start returned."""
    started = _start(client, reviewer).json()
    response = client.get(f"/api/instances/{started['id']}", headers=reviewer.headers)
    assert response.status_code == 200 and response.json() == started


def test_unknown_instance_is_404_everywhere(client: TestClient, admin: TestUser) -> None:
    """Read, history, diagram and terminate of an unknown id are 404s."""
    for method, suffix in (
        ("GET", ""),
        ("GET", "/history"),
        ("GET", "/diagram"),
        ("POST", "/terminate"),
    ):
        response = client.request(method, f"/api/instances/missing{suffix}", headers=admin.headers)
        assert_error(response, 404, "not_found")


def test_list_filters(client: TestClient, reviewer: TestUser) -> None:
    """key, status, business_key and variable.<name> narrow the list; newest first."""
    a = _start(client, reviewer, amount=70, business_key="A-1").json()
    b = _start(client, reviewer, amount=200, business_key="B-2").json()

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/instances", params=params, headers=reviewer.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [b["id"], a["id"]]
    assert ids(key="review", status="waiting") == [b["id"], a["id"]]
    assert ids(status="completed") == [] and ids(key="other") == []
    assert ids(business_key="A-1") == [a["id"]]
    assert ids(**{"variable.amount": "200"}) == [b["id"]]
    assert ids(**{"variable.total": "140", "variable.amount": "70"}) == [a["id"]]
    assert ids(**{"variable.amount": "999"}) == []


def test_list_created_window(client: TestClient, reviewer: TestUser) -> None:
    """created_after is inclusive, created_before exclusive."""
    first = _start(client, reviewer).json()
    second = _start(client, reviewer).json()

    def ids(**params: str) -> list[str]:
        body = client.get("/api/instances", params=params, headers=reviewer.headers).json()
        return [item["id"] for item in body["items"]]

    assert ids(created_after=second["created_at"]) == [second["id"]]
    assert ids(created_before=second["created_at"]) == [first["id"]]


def test_list_pages_newest_first(client: TestClient, reviewer: TestUser) -> None:
    """Pages of 2 walk all instances newest first without repeats."""
    started = [_start(client, reviewer).json()["id"] for _ in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = client.get("/api/instances", params=params, headers=reviewer.headers).json()
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == started[::-1]


def test_list_bad_filter_is_422(client: TestClient, reviewer: TestUser) -> None:
    """An unknown status and a malformed date are validation errors."""
    for params in ({"status": "sleeping"}, {"created_after": "yesterday"}):
        response = client.get("/api/instances", params=params, headers=reviewer.headers)
        assert_error(response, 422, "validation_error")


def test_history_after_completion(client: TestClient, reviewer: TestUser) -> None:
    """History lists events oldest first with who did it and what changed."""
    instance = _start(client, reviewer).json()
    task = client.get(
        "/api/tasks", params={"instance_id": instance["id"]}, headers=reviewer.headers
    )
    task_id = task.json()["items"][0]["id"]
    data = {"decision": "approve", "size": 44}
    done = client.post(
        f"/api/tasks/{task_id}/complete", json={"data": data}, headers=reviewer.headers
    )
    assert done.status_code == 200, done.text
    response = client.get(f"/api/instances/{instance['id']}/history", headers=reviewer.headers)
    assert response.status_code == 200
    events = response.json()["items"]
    assert set(events[0]) == {"at", "type", "element_id", "element_name", "actor", "changes"}
    assert events[0]["type"] == "instance_started" and events[0]["actor"] == "maria"
    assert events[0]["changes"]["amount"] == [None, 70]
    completed = next(e for e in events if e["type"] == "task_completed")
    assert completed["element_id"] == "review_order" and completed["actor"] == "maria"
    assert completed["changes"] == {"decision": [None, "approve"], "size": [None, 44]}


def test_history_pages(client: TestClient, reviewer: TestUser) -> None:
    """History pages by event id; the pages together are the whole history."""
    instance_id = _start(client, reviewer).json()["id"]
    url = f"/api/instances/{instance_id}/history"
    whole = client.get(url, headers=reviewer.headers).json()["items"]
    first = client.get(url, params={"limit": 2}, headers=reviewer.headers).json()
    rest = client.get(url, params={"cursor": first["next_cursor"]}, headers=reviewer.headers).json()
    assert len(first["items"]) == 2 and first["items"] + rest["items"] == whole
    assert rest["next_cursor"] is None


def test_history_rejects_foreign_cursor(client: TestClient, reviewer: TestUser) -> None:
    """A cursor from another list (wrong shape) is 422 invalid_cursor."""
    instance_id = _start(client, reviewer).json()["id"]
    _start(client, reviewer)
    cursor = client.get("/api/instances", params={"limit": 1}, headers=reviewer.headers).json()
    response = client.get(
        f"/api/instances/{instance_id}/history",
        params={"cursor": cursor["next_cursor"]},
        headers=reviewer.headers,
    )
    assert_error(response, 422, "invalid_cursor")


def test_diagram(client: TestClient, reviewer: TestUser) -> None:
    """The diagram carries the XML, passed elements and the active one."""
    instance_id = _start(client, reviewer).json()["id"]
    response = client.get(f"/api/instances/{instance_id}/diagram", headers=reviewer.headers)
    assert response.status_code == 200
    body = response.json()
    assert "<bpmn:userTask" in body["xml"]
    assert {"start", "prepare", "route"} <= set(body["completed"])
    assert body["active"] == ["review_order"]


def test_terminate_as_admin(client: TestClient, reviewer: TestUser, admin: TestUser) -> None:
    """An admin terminates a waiting instance: 200 with status terminated and an end time."""
    instance_id = _start(client, reviewer).json()["id"]
    response = client.post(f"/api/instances/{instance_id}/terminate", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "terminated" and body["ended_at"] and body["active"] == []
    tasks = client.get("/api/tasks", params={"instance_id": instance_id}, headers=admin.headers)
    assert tasks.json()["items"] == []


def test_terminate_twice_is_409(client: TestClient, reviewer: TestUser, admin: TestUser) -> None:
    """A finished instance cannot be terminated again."""
    instance_id = _start(client, reviewer).json()["id"]
    client.post(f"/api/instances/{instance_id}/terminate", headers=admin.headers)
    again = client.post(f"/api/instances/{instance_id}/terminate", headers=admin.headers)
    assert_error(again, 409, "instance_finished")


def test_terminate_needs_admin(client: TestClient, reviewer: TestUser) -> None:
    """A manager may not terminate."""
    instance_id = _start(client, reviewer).json()["id"]
    response = client.post(f"/api/instances/{instance_id}/terminate", headers=reviewer.headers)
    assert_error(response, 403, "forbidden")
