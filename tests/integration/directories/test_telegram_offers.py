"""Telegram order offers on both databases: who is offered what, and ten presses delivered at
once (threads, a connection each) as the webhook delivers them — exactly one claim wins."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import handlers  # noqa: F401  (the message handler and the outbox sender register on import)
from api.auth.service import create_user
from engine import queues, service
from engine.actor import SYSTEM_ACTOR
from engine.db import session_scope
from engine.errors import NotFoundError
from engine.models import HumanTask, OutboxMessage, TelegramOffer, User, utcnow
from engine.timers import fire_due_timers
from handlers.telegram_offers import dispatch_offers, full_text, offer_text
from tests.integration.processes.conftest import process_files

ORDER = {
    "number": "ZZ-7",
    "arrived_at": "2026-11-30T09:15:00+03:00",
    "amount": 6990.0,
    "customer": {"name": "Пётр", "phone": "+79130000007"},
    "items": [{"sku": "GZ-101", "name": "Бампер", "qty": 1, "price": 6990.0}],
}


@pytest.fixture
def queue(session_factory: sessionmaker[Session]) -> list[str]:
    """Ten managers online with Telegram chats, one offline, and the blind FIFO queue."""
    now = utcnow()
    names = [f"m{i}" for i in range(10)]
    with session_scope(session_factory) as session:
        for position, name in enumerate([*names, "away"]):
            create_user(
                session, username=name, password="x" * 12, roles=("manager",), groups=("managers",)
            )
            user = session.scalars(select(User).where(User.username == name)).one()
            user.telegram_chat_id = str(5000 + position)
            user.online_until = None if name == "away" else now + timedelta(hours=1)
        policy = queues.PolicyInput(
            name="managers",
            blind=True,
            visible_fields=("order_number", "arrived_at"),
            fifo=True,
            cooldown_seconds=60,
            online_only=True,
        )
        queues.save_policy(session, data=policy, actor=SYSTEM_ACTOR)
        service.deploy(session, files=process_files("order_assignment.bpmn", "order"))
        service.start_instance(session, key="order_assignment", variables={"order": ORDER})
    fire_due_timers(session_factory, now=utcnow() + timedelta(seconds=61))
    return names


def _press(session: Session, task_id: str, chat: str) -> dict[str, list[str]]:
    return service.deliver_message(
        session,
        name="button_pressed",
        correlation={"callback_data": f"take:{task_id}"},
        variables={"bot": "managers", "telegram_user_id": int(chat), "chat_id": int(chat)},
    )


def test_ten_concurrent_presses_make_one_winner_and_every_offer_is_edited(
    session_factory: sessionmaker[Session], queue: list[str]
) -> None:
    with session_scope(session_factory) as session:
        assert dispatch_offers(session) == 10  # not to "away": offline
        assert dispatch_offers(session) == 0  # once per manager
        task = session.scalars(select(HumanTask)).one()
        sent = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert {m.payload["text"] for m in sent} == {offer_text(task.data)}
    assert "6 990" not in offer_text(task.data) and "Пётр" not in offer_text(task.data)

    barrier = threading.Barrier(10)
    outcomes: list[Any] = []

    def press(position: int) -> None:
        barrier.wait()
        try:
            with session_scope(session_factory) as session:
                outcomes.append(_press(session, task.id, str(5000 + position)))
        except NotFoundError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    won = [o for o in outcomes if isinstance(o, dict)]
    assert len(won) == 1 and won[0]["delivered_to"] == [task.instance_id]
    assert outcomes.count("no_matching_subscription") == 9

    with session_scope(session_factory) as session:
        winner = session.get(HumanTask, task.id)
        assert winner is not None and winner.assignee in queue
        offers = {o.username: o.state for o in session.scalars(select(TelegramOffer))}
        edits = [
            m.payload
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.payload["action"] == "edit"
        ]
    assert offers == {name: "won" if name == winner.assignee else "taken" for name in queue}
    assert len(edits) == 10
    assert sum(e["text"] == full_text(winner.data) for e in edits) == 1
    assert "6 990 ₽" in full_text(winner.data) and "Пётр" in full_text(winner.data)


def test_a_press_from_an_unknown_telegram_user_or_another_bot_is_not_a_claim(
    session_factory: sessionmaker[Session], queue: list[str]
) -> None:
    with session_scope(session_factory) as session:
        task = session.scalars(select(HumanTask)).one()
        with pytest.raises(NotFoundError):
            _press(session, task.id, "999")  # nobody has this Telegram id
        with pytest.raises(NotFoundError):
            service.deliver_message(  # not our button: nobody waits, nothing claims
                session, name="button_pressed", correlation={"callback_data": "other:1"}
            )
        with pytest.raises(NotFoundError):
            _press(session, task.id, "5010")  # "away" is offline: online-only refuses
        assert session.get(HumanTask, task.id).assignee is None  # type: ignore[union-attr]
