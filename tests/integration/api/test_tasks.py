"""Human tasks: list filters, read, claim / unclaim / complete and their error codes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import REVIEW_FILES, Deploy, MakeUser
from tests.integration.api.helpers import TestUser, assert_error

GOOD = {"decision": "approve", "size": 44}


@pytest.fixture(autouse=True)
def _review(deploy: Deploy) -> None:
    deploy(*REVIEW_FILES)


def _start_task(client: TestClient, user: TestUser, business_key: str = "Q-7") -> str:
    """Start a review instance and return the id of its open task."""
    body = {"variables": {"amount": 70}, "business_key": business_key}
    started = client.post("/api/processes/review/instances", json=body, headers=user.headers)
    assert started.status_code == 201, started.text
    listed = client.get(
        "/api/tasks", params={"instance_id": started.json()["id"]}, headers=user.headers
    )
    task_id: str = listed.json()["items"][0]["id"]
    return task_id


def _ids(client: TestClient, user: TestUser, **params: Any) -> list[str]:
    response = client.get("/api/tasks", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_read_task_shape(client: TestClient, reviewer: TestUser) -> None:
    """A task carries its queue, form and pre-filled data as API.md describes."""
    task_id = _start_task(client, reviewer)
    response = client.get(f"/api/tasks/{task_id}", headers=reviewer.headers)
    assert response.status_code == 200
    task = response.json()
    assert {
        "id",
        "instance_id",
        "process_key",
        "element_id",
        "name",
        "lane",
        "candidate_groups",
        "assignee",
        "state",
        "created_at",
        "due_at",
        "form",
        "data",
    } <= set(task)
    assert (task["process_key"], task["element_id"], task["lane"]) == (
        "review",
        "review_order",
        "managers",
    )
    assert task["candidate_groups"] == ["managers"] and task["assignee"] is None
    assert task["state"] == "open"
    assert task["form"]["schema"]["required"] == ["decision", "size"]
    assert task["form"]["ui_schema"]["accepted_by"] == {"ui:readonly": True}
    assert task["data"] == {"accepted_by": "system"}


def test_unknown_task_is_404(client: TestClient, reviewer: TestUser) -> None:
    """Read and every action on an unknown task are 404s."""
    assert_error(client.get("/api/tasks/missing", headers=reviewer.headers), 404, "not_found")
    for action in ("claim", "unclaim", "complete"):
        response = client.post(f"/api/tasks/missing/{action}", json={}, headers=reviewer.headers)
        assert_error(response, 404, "not_found")


def test_claim_sets_assignee(client: TestClient, reviewer: TestUser) -> None:
    """Claiming assigns the task to the caller."""
    task_id = _start_task(client, reviewer)
    response = client.post(f"/api/tasks/{task_id}/claim", headers=reviewer.headers)
    assert response.status_code == 200
    assert response.json()["assignee"] == "maria" and response.json()["id"] == task_id


def test_claim_taken_task_is_409(
    client: TestClient, reviewer: TestUser, make_user: MakeUser
) -> None:
    """Someone else's task cannot be claimed."""
    task_id = _start_task(client, reviewer)
    other = make_user("ivan", roles=("manager",), groups=("managers",))
    client.post(f"/api/tasks/{task_id}/claim", headers=reviewer.headers)
    response = client.post(f"/api/tasks/{task_id}/claim", headers=other.headers)
    error = assert_error(response, 409, "task_already_claimed")
    assert "maria" in error["message"]


def test_claim_outside_candidate_groups_is_403(
    client: TestClient, reviewer: TestUser, outsider: TestUser
) -> None:
    """A user outside the task's groups may not claim it."""
    task_id = _start_task(client, reviewer)
    response = client.post(f"/api/tasks/{task_id}/claim", headers=outsider.headers)
    assert_error(response, 403, "forbidden")


def test_task_actions_need_tasks_scope(
    client: TestClient, reviewer: TestUser, make_user: MakeUser
) -> None:
    """A token without the tasks scope may not act on tasks."""
    task_id = _start_task(client, reviewer)
    bot = make_user("bot", roles=("manager",), groups=("managers",), scopes=("messages:send",))
    assert_error(client.post(f"/api/tasks/{task_id}/claim", headers=bot.headers), 403, "forbidden")
    assert_error(client.get("/api/tasks", headers=bot.headers), 403, "forbidden")


def test_unclaim_returns_task_to_queue(client: TestClient, reviewer: TestUser) -> None:
    """Unclaiming clears the assignee."""
    task_id = _start_task(client, reviewer)
    client.post(f"/api/tasks/{task_id}/claim", headers=reviewer.headers)
    response = client.post(f"/api/tasks/{task_id}/unclaim", headers=reviewer.headers)
    assert response.status_code == 200 and response.json()["assignee"] is None


def test_unclaim_someone_elses_task_is_403(
    client: TestClient, reviewer: TestUser, make_user: MakeUser
) -> None:
    """Only the assignee (or an admin) may unclaim."""
    task_id = _start_task(client, reviewer)
    other = make_user("ivan", roles=("manager",), groups=("managers",))
    client.post(f"/api/tasks/{task_id}/claim", headers=reviewer.headers)
    response = client.post(f"/api/tasks/{task_id}/unclaim", headers=other.headers)
    assert_error(response, 403, "forbidden")


def test_complete_runs_instance_on(client: TestClient, reviewer: TestUser) -> None:
    """Completing returns the completed task and the instance after it ran on."""
    task_id = _start_task(client, reviewer)
    response = client.post(
        f"/api/tasks/{task_id}/complete", json={"data": GOOD}, headers=reviewer.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task", "instance"}
    assert body["task"]["state"] == "completed"
    assert body["task"]["assignee"] == "maria"  # claimed implicitly by the completer
    assert body["instance"]["status"] == "completed" and body["instance"]["ended_at"]
    assert body["instance"]["variables"]["size"] == 44


def test_complete_invalid_data_is_422_with_fields(client: TestClient, reviewer: TestUser) -> None:
    """Form data that breaks the schema is refused field by field."""
    task_id = _start_task(client, reviewer)
    response = client.post(
        f"/api/tasks/{task_id}/complete",
        json={"data": {"decision": "approve", "size": 99}},
        headers=reviewer.headers,
    )
    error = assert_error(response, 422, "form_invalid")
    assert error["details"][0]["loc"] == ["data", "size"]


def test_complete_twice_is_409(client: TestClient, reviewer: TestUser) -> None:
    """A completed task cannot be completed again."""
    task_id = _start_task(client, reviewer)
    url = f"/api/tasks/{task_id}/complete"
    assert client.post(url, json={"data": GOOD}, headers=reviewer.headers).status_code == 200
    again = client.post(url, json={"data": GOOD}, headers=reviewer.headers)
    assert_error(again, 409, "task_already_completed")


def test_complete_not_allowed_is_403(
    client: TestClient, reviewer: TestUser, outsider: TestUser
) -> None:
    """A user outside the task's groups may not complete it."""
    task_id = _start_task(client, reviewer)
    response = client.post(
        f"/api/tasks/{task_id}/complete", json={"data": GOOD}, headers=outsider.headers
    )
    assert_error(response, 403, "forbidden")


def test_list_filters(
    client: TestClient, reviewer: TestUser, outsider: TestUser, make_user: MakeUser
) -> None:
    """assignee, candidate, group, process_key and state narrow the task list."""
    first = _start_task(client, reviewer, "A-1")
    second = _start_task(client, reviewer, "B-2")
    client.post(f"/api/tasks/{first}/claim", headers=reviewer.headers)
    assert _ids(client, reviewer) == [first, second]
    assert _ids(client, reviewer, assignee="me") == [first]
    assert _ids(client, reviewer, assignee="maria") == [first]
    assert _ids(client, reviewer, candidate="me") == [second]
    assert _ids(client, outsider, candidate="me") == []
    assert _ids(client, reviewer, group="managers") == [first, second]
    assert _ids(client, reviewer, group="manager") == []  # a prefix is not the group
    assert _ids(client, reviewer, process_key="review") == [first, second]
    assert _ids(client, reviewer, process_key="other") == []
    assert _ids(client, reviewer, state="completed") == []


def test_list_completed_state(client: TestClient, reviewer: TestUser) -> None:
    """state=completed lists finished tasks; the default lists open ones."""
    task_id = _start_task(client, reviewer)
    client.post(f"/api/tasks/{task_id}/complete", json={"data": GOOD}, headers=reviewer.headers)
    assert _ids(client, reviewer) == []
    assert _ids(client, reviewer, state="completed") == [task_id]


def test_list_bad_filters_are_422(client: TestClient, reviewer: TestUser) -> None:
    """Unknown state and candidate values are validation errors."""
    for params in ({"state": "done"}, {"candidate": "you"}):
        response = client.get("/api/tasks", params=params, headers=reviewer.headers)
        assert_error(response, 422, "validation_error")
