"""Queue policies, rule by rule, through the REST API, the web UI and the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import queues, service
from engine.actor import Actor
from engine.db import session_scope
from engine.errors import QueuePolicyRefusal
from engine.models import HumanTask, InstanceEvent, User, utcnow
from tests.integration.web.conftest import MakeUser, OpenBrowser, StartTask, order, valid_form

Headers = Callable[[str], dict[str, str]]
ADMIN = Actor(username="boss", roles=frozenset({"admin"}))


@pytest.fixture
def policy(session_factory: sessionmaker[Session]) -> Callable[..., None]:
    """Set the policy of queue `managers`."""

    def set_policy(**rules: object) -> None:
        with session_scope(session_factory) as session:
            data = queues.PolicyInput(name="managers", **rules)  # type: ignore[arg-type]
            queues.save_policy(session, data=data, actor=ADMIN)

    return set_policy


@pytest.fixture
def people(make_user: MakeUser) -> None:
    make_user("maria")
    make_user("ivan")
    make_user("boss", roles=("admin",), groups=("admins",))


def _claim(client: TestClient, headers: dict[str, str], task_id: str) -> tuple[int, str]:
    response = client.post(f"/api/tasks/{task_id}/claim", headers=headers)
    code = response.json()["error"]["code"] if response.status_code >= 400 else ""
    return response.status_code, code


def _my_queue(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The items of GET /api/tasks?candidate=me for the user of `headers`."""
    items: list[dict[str, Any]] = client.get(
        "/api/tasks", params={"candidate": "me"}, headers=headers
    ).json()["items"]
    return items


def _set_task(session_factory: sessionmaker[Session], task_id: str, **values: Any) -> None:
    """Write `values` into the task's row, as if time had passed."""
    with session_scope(session_factory) as session:
        session.execute(update(HumanTask).where(HumanTask.id == task_id).values(**values))


# --- blind ----------------------------------------------------------------------------------


def test_blind_queue_hides_fields_in_the_api_until_claimed(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
) -> None:
    """Before claim only the listed fields are in `data`; after claim everything is."""
    policy(blind=True, visible_fields=("order_number",))
    task_id = start_task(**order())
    maria, ivan = api_token("maria"), api_token("ivan")

    listed = _my_queue(client, maria)
    assert [item["data"] for item in listed] == [{"order_number": "A-1042"}]
    one = client.get(f"/api/tasks/{task_id}", headers=maria).json()
    assert one["data"] == {"order_number": "A-1042"}

    claimed = client.post(f"/api/tasks/{task_id}/claim", headers=maria).json()
    assert claimed["data"]["customer_phone"] == "+7 (916) 123-45-67"
    assert client.get(f"/api/tasks/{task_id}", headers=maria).json()["data"]["customer_name"]
    # Someone else still sees only what the queue shows; an admin sees everything.
    assert client.get(f"/api/tasks/{task_id}", headers=ivan).json()["data"] == {
        "order_number": "A-1042"
    }
    assert (
        "customer_name"
        in client.get(f"/api/tasks/{task_id}", headers=api_token("boss")).json()["data"]
    )


def test_blind_queue_hides_fields_and_history_on_the_page(
    people: None, browser: OpenBrowser, start_task: StartTask, policy: Callable[..., None]
) -> None:
    """The inbox row and the task page show only the visible fields until the claim."""
    policy(blind=True, visible_fields=("order_number",))
    task_id = start_task(**order(customer_name="Секретный Клиент"))
    maria = browser("maria")
    inbox = maria.get("/inbox?tab=queue").text
    assert "A-1042" in inbox and "Секретный Клиент" not in inbox
    page = maria.get(f"/tasks/{task_id}").text
    assert "Секретный Клиент" not in page and "916" not in page
    assert 'id="task-form"' not in page  # no form to read the values from either
    assert maria.get(f"/tasks/{task_id}/files/customer_name").status_code == 404

    maria.post(f"/tasks/{task_id}/claim")
    assert "Секретный Клиент" in maria.get(f"/tasks/{task_id}").text


# --- first click wins ---------------------------------------------------------------------


def test_first_click_wins(
    client: TestClient, people: None, api_token: Headers, start_task: StartTask
) -> None:
    """Of two claimants the second gets 409 task_already_claimed."""
    task_id = start_task(**order())
    assert _claim(client, api_token("maria"), task_id) == (200, "")
    assert _claim(client, api_token("ivan"), task_id) == (409, "task_already_claimed")


# --- FIFO ---------------------------------------------------------------------------------


def test_fifo_only_the_oldest_task_can_be_claimed(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
) -> None:
    """A newer task is refused with not_next_in_queue until the older one is taken."""
    policy(fifo=True)
    older = start_task(**order(order_number="A-1"))
    newer = start_task(**order(order_number="A-2"))
    maria, ivan = api_token("maria"), api_token("ivan")
    assert _claim(client, maria, newer) == (409, "not_next_in_queue")
    assert _claim(client, maria, older) == (200, "")
    assert _claim(client, ivan, newer) == (200, "")  # now it is the oldest open one


def test_fifo_refusal_on_the_page_is_a_message_not_an_error(
    people: None, browser: OpenBrowser, start_task: StartTask, policy: Callable[..., None]
) -> None:
    """Claiming out of order from the inbox comes back to the inbox with the reason."""
    policy(fifo=True)
    start_task(**order(order_number="A-1"))
    newer = start_task(**order(order_number="A-2"))
    maria = browser("maria")
    response = maria.post(f"/tasks/{newer}/claim", {"from": "inbox"})
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    assert "задачи берут по порядку" in maria.get("/inbox").text


# --- cool-down ----------------------------------------------------------------------------


def test_cooldown_refuses_and_hides_the_queue_then_lets_go(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
    session_factory: sessionmaker[Session],
) -> None:
    """After a claim: 409 cooldown_active and an empty queue for N seconds, then normal."""
    policy(cooldown_seconds=120)
    first, second = start_task(**order()), start_task(**order(order_number="A-2"))
    maria = api_token("maria")
    assert _claim(client, maria, first) == (200, "")
    response = client.post(f"/api/tasks/{second}/claim", headers=maria)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "cooldown_active" and 115 <= error["details"][0]["retry_after"] <= 120
    assert _my_queue(client, maria) == []
    # Others are not affected.
    assert [i["id"] for i in _my_queue(client, api_token("ivan"))] == [second]

    with session_scope(session_factory) as session:  # two minutes later
        session.execute(
            update(queues.QueueClaim).values(claimed_at=utcnow() - timedelta(seconds=121))
        )
    assert _claim(client, maria, second) == (200, "")


# --- online only --------------------------------------------------------------------------


def test_online_only_needs_presence(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
    session_factory: sessionmaker[Session],
) -> None:
    """Offline: 409 not_online and nothing listed; a heartbeat makes the user online."""
    policy(online_only=True)
    task_id = start_task(**order())
    maria = api_token("maria")
    assert _claim(client, maria, task_id) == (409, "not_online")
    assert _my_queue(client, maria) == []

    with session_scope(session_factory) as session:
        assert queues.heartbeat(session, username="maria", now=utcnow())
    assert len(_my_queue(client, maria)) == 1
    assert _claim(client, maria, task_id) == (200, "")


def test_presence_toggle_and_heartbeat(
    people: None, browser: OpenBrowser, session_factory: sessionmaker[Session]
) -> None:
    """The toggle on the user's page sets online_until; off, heartbeats no longer count."""
    maria = browser("maria")
    maria.post("/me/online", {"online": "1"})
    with session_scope(session_factory) as session:
        user = session.scalars(select(User).where(User.username == "maria")).one()
        assert queues.is_online(user, utcnow() + timedelta(hours=7))
    assert "Вы в сети" in maria.get("/me").text

    maria.post("/me/online", {"online": "0"})
    with session_scope(session_factory) as session:
        assert not queues.heartbeat(session, username="maria", now=utcnow())
        user = session.scalars(select(User).where(User.username == "maria")).one()
        assert user.online_until is None
    assert "Вы не в сети" in maria.get("/me").text


def test_heartbeat_expires(session_factory: sessionmaker[Session], people: None) -> None:
    """A heartbeat keeps a user online for a few minutes only."""
    now = utcnow()
    with session_scope(session_factory) as session:
        queues.heartbeat(session, username="ivan", now=now)
        user = session.scalars(select(User).where(User.username == "ivan")).one()
        assert queues.is_online(user, now + timedelta(minutes=2))
        assert not queues.is_online(user, now + timedelta(minutes=4))


# --- return to queue ----------------------------------------------------------------------


def test_idle_claimed_tasks_return_to_the_queue(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
    session_factory: sessionmaker[Session],
) -> None:
    """return_idle_tasks unclaims tasks idle longer than N minutes, and only those."""
    policy(return_after_minutes=30)
    idle, busy = start_task(**order()), start_task(**order(order_number="A-2"))
    assert _claim(client, api_token("maria"), idle) == (200, "")
    assert _claim(client, api_token("ivan"), busy) == (200, "")
    now = utcnow()
    claimed_at = now - timedelta(minutes=40)
    _set_task(
        session_factory, idle, claimed_at=claimed_at, last_activity_at=now - timedelta(minutes=31)
    )
    _set_task(
        session_factory, busy, claimed_at=claimed_at, last_activity_at=now - timedelta(minutes=5)
    )
    with session_scope(session_factory) as session:
        assert queues.return_idle_tasks(session, now) == [idle]
    with session_scope(session_factory) as session:
        assert session.get(HumanTask, idle).assignee is None  # type: ignore[union-attr]
        assert session.get(HumanTask, busy).assignee == "ivan"  # type: ignore[union-attr]
        event = session.scalars(
            select(InstanceEvent).where(InstanceEvent.type == "task_returned")
        ).one()
        assert (event.actor, event.changes) == ("system", {"assignee": ["maria", None]})
    with session_scope(session_factory) as session:  # nothing left to return
        assert queues.return_idle_tasks(session, now) == []


def test_opening_the_task_counts_as_activity(
    people: None,
    browser: OpenBrowser,
    start_task: StartTask,
    policy: Callable[..., None],
    session_factory: sessionmaker[Session],
) -> None:
    """The assignee looking at the task keeps it from going back."""
    policy(return_after_minutes=30)
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    _set_task(session_factory, task_id, last_activity_at=utcnow() - timedelta(minutes=31))
    maria.get(f"/tasks/{task_id}")
    with session_scope(session_factory) as session:
        assert queues.return_idle_tasks(session, utcnow()) == []


# --- the rules bind every path ------------------------------------------------------------


def test_implicit_claim_on_complete_obeys_the_policy(
    client: TestClient,
    people: None,
    api_token: Headers,
    start_task: StartTask,
    policy: Callable[..., None],
) -> None:
    """Completing an unclaimed task is a claim too: FIFO refuses it just the same."""
    policy(fifo=True)
    start_task(**order(order_number="A-1"))
    newer = start_task(**order(order_number="A-2"))
    data = {
        "customer_name": "Анна",
        "quantity": 1,
        "amount": "10.00",
        "delivery_date": "2026-12-24",
        "delivery": "pickup",
    }
    response = client.post(
        f"/api/tasks/{newer}/complete", json={"data": data}, headers=api_token("maria")
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_next_in_queue"


def test_admins_are_not_bound_by_policies(
    session_factory: sessionmaker[Session],
    people: None,
    start_task: StartTask,
    policy: Callable[..., None],
) -> None:
    """A supervisor may take any task (e.g. a stuck one) whatever the queue's rules."""
    policy(fifo=True, online_only=True, cooldown_seconds=600)
    start_task(**order(order_number="A-1"))
    newer = start_task(**order(order_number="A-2"))
    with session_scope(session_factory) as session:
        service.claim_task(session, task_id=newer, actor=ADMIN)


def test_policy_refusal_is_a_conflict_error(
    session_factory: sessionmaker[Session],
    people: None,
    start_task: StartTask,
    policy: Callable[..., None],
) -> None:
    """The engine raises QueuePolicyRefusal (a ConflictError → 409) with the rule's code."""
    policy(online_only=True)
    task_id = start_task(**order())
    maria = Actor(username="maria", groups=frozenset({"managers"}), roles=frozenset({"manager"}))
    with session_scope(session_factory) as session, pytest.raises(QueuePolicyRefusal) as refused:
        service.claim_task(session, task_id=task_id, actor=maria)
    assert refused.value.code == "not_online"


# --- administration -----------------------------------------------------------------------


def test_admin_configures_policies_on_the_page(
    people: None, browser: OpenBrowser, session_factory: sessionmaker[Session]
) -> None:
    """Create, change, refuse nonsense, delete — all stored as data."""
    boss = browser("boss")
    saved = boss.post(
        "/admin/queues",
        {
            "name": "managers",
            "fifo": "on",
            "cooldown_seconds": "30",
            "blind": "on",
            "visible_fields": "order_number, arrived_at",
            "return_after_minutes": "15",
        },
    )
    assert saved.status_code == 303
    with session_scope(session_factory) as session:
        stored = queues.get_policy_or_raise(session, name="managers")
        assert (stored.fifo, stored.cooldown_seconds, stored.blind, stored.online_only) == (
            True,
            30,
            True,
            False,
        )
        assert stored.visible_fields == ["arrived_at", "order_number"]
        assert (stored.return_after_minutes, stored.updated_by) == (15, "boss")
    page = boss.get("/admin/queues").text
    assert "managers" in page and "30 с" in page

    refused = boss.post(
        "/admin/queues", {"name": "managers", "blind": "on", "cooldown_seconds": "-5"}
    )
    assert refused.status_code == 422
    assert "В слепой очереди должно быть видно" in refused.text and "0 или целое" in refused.text

    assert boss.post("/admin/queues/managers/delete").status_code == 303
    with session_scope(session_factory) as session:
        assert queues.get_policy(session, name="managers") is None


def test_only_admins_configure_policies(people: None, browser: OpenBrowser) -> None:
    """A manager gets 403 on the admin pages and cannot post a policy."""
    maria = browser("maria")
    assert maria.get("/admin/queues").status_code == 403
    assert maria.post("/admin/queues", {"name": "managers", "fifo": "on"}).status_code == 403


def test_user_page_lists_the_rules_of_my_queues(
    people: None, browser: OpenBrowser, policy: Callable[..., None]
) -> None:
    """Managers can see which rules their queue has."""
    policy(fifo=True, cooldown_seconds=45)
    page = browser("maria").get("/me").text
    assert "Правила моих очередей" in page and "45 с" in page


def test_valid_form_helper_is_accepted(
    people: None, browser: OpenBrowser, start_task: StartTask
) -> None:
    """The fixture's valid submission completes a showcase task (guards the other tests)."""
    task_id = start_task(**order())
    maria = browser("maria")
    maria.post(f"/tasks/{task_id}/claim")
    assert maria.post(f"/tasks/{task_id}/complete", valid_form()).status_code == 303
