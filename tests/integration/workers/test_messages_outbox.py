"""Idempotent message delivery and the outbox, on real databases."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import outbox, service
from engine.db import session_scope
from engine.errors import ConflictError
from engine.models import OutboxMessage, ProcessInstance, utcnow

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CHANNEL = "test.sms"


@pytest.fixture
def deploy_messages(session_factory: sessionmaker[Session]) -> None:
    files = [("messages.bpmn", (FIXTURES / "messages.bpmn").read_bytes())]
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="tests")


def _count(factory: sessionmaker[Session], model: type, **where: object) -> int:
    with session_scope(factory) as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(session.scalar(stmt) or 0)


def test_repeated_delivery_with_the_same_key_does_nothing(
    session_factory: sessionmaker[Session], deploy_messages: None
) -> None:
    def deliver(key: str | None, text: str = "привет") -> dict[str, list[str]]:
        with session_scope(session_factory) as session:
            return service.deliver_message(
                session, name="inbound_test", variables={"text": text}, idempotency_key=key
            )

    first = deliver("avito-1")
    assert len(first["started"]) == 1
    assert deliver("avito-1") == first
    assert _count(session_factory, ProcessInstance, key="inbound_start") == 1
    with pytest.raises(ConflictError) as reused:
        deliver("avito-1", text="другой текст")
    assert reused.value.code == "idempotency_key_reused"
    assert deliver("avito-2")["started"] != first["started"]
    assert deliver(None)["started"] and deliver(None)["started"]  # no key: every call acts
    assert _count(session_factory, ProcessInstance, key="inbound_start") == 4


def test_keyed_delivery_to_a_waiting_instance_happens_once(
    session_factory: sessionmaker[Session], deploy_messages: None
) -> None:
    with session_scope(session_factory) as session:
        waiting = service.start_instance(
            session, key="await_payment", variables={"order_id": "Q-1"}
        )
    for _ in range(2):
        with session_scope(session_factory) as session:
            result = service.deliver_message(
                session,
                name="payment_received",
                correlation={"order_id": "Q-1"},
                variables={"amount": "10.00"},
                idempotency_key="yookassa-evt-1",
            )
        # the repeat answers like the first; without the key it would be a 404
        assert result == {"delivered_to": [waiting.id], "started": []}


@pytest.fixture
def sms() -> Iterator[list[outbox.OutboxItem]]:
    """A throw-away sender for CHANNEL that records what it sent."""
    sent: list[outbox.OutboxItem] = []
    outbox.register_sender(CHANNEL, sent.append)
    yield sent
    outbox.unregister_sender(CHANNEL)


def _enqueue(factory: sessionmaker[Session], text: str, key: str | None = None) -> None:
    with session_scope(factory) as session:
        outbox.enqueue(
            session,
            channel=CHANNEL,
            recipient="+79990000000",
            payload={"text": text},
            dedupe_key=key,
        )


def test_rolled_back_transaction_sends_nothing(
    session_factory: sessionmaker[Session], sms: list[outbox.OutboxItem]
) -> None:
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        outbox.enqueue(session, channel=CHANNEL, recipient="+7", payload={"text": "ghost"})
        raise RuntimeError("the state change failed")
    _enqueue(session_factory, "real")
    report = outbox.deliver_outbox(session_factory)
    assert [item.payload["text"] for item in sms] == ["real"]
    assert len(report.sent) == 1
    assert outbox.deliver_outbox(session_factory).sent == []  # sent once


def test_nothing_lost_while_the_sender_is_down(
    session_factory: sessionmaker[Session], sms: list[outbox.OutboxItem]
) -> None:
    down = [ConnectionError("smsc unreachable")] * 3

    def flaky(item: outbox.OutboxItem) -> None:
        if down:
            raise down.pop()
        sms.append(item)

    outbox.register_sender(CHANNEL, flaky)
    _enqueue(session_factory, "your order is packed", key="order-7:packed")
    _enqueue(session_factory, "your order is packed", key="order-7:packed")  # deduplicated
    now = utcnow()
    for _ in range(3):
        report = outbox.deliver_outbox(session_factory, now=now)
        assert len(report.retried) == 1 and sms == []
        now += timedelta(hours=2)  # beyond any backoff
    report = outbox.deliver_outbox(session_factory, now=now)
    assert len(report.sent) == 1
    assert [(i.dedupe_key, i.attempt) for i in sms] == [("order-7:packed", 4)]
    with session_scope(session_factory) as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.state, row.attempts, row.sent_at is not None) == ("sent", 4, True)


def test_permanent_failure_and_missing_sender(session_factory: sessionmaker[Session]) -> None:
    def reject(item: outbox.OutboxItem) -> None:
        raise ValueError("invalid phone number")

    outbox.register_sender(CHANNEL, reject)
    try:
        _enqueue(session_factory, "x")
        assert len(outbox.deliver_outbox(session_factory).failed) == 1
    finally:
        outbox.unregister_sender(CHANNEL)
    with session_scope(session_factory) as session:
        outbox.enqueue(session, channel="nobody.listens", recipient="r", payload={})
    report = outbox.deliver_outbox(session_factory)
    assert len(report.retried) == 1  # a sender may be registered in another worker
    assert _count(session_factory, OutboxMessage, state="pending") == 1


def test_concurrent_deliverers_send_each_message_once(
    session_factory: sessionmaker[Session], sms: list[outbox.OutboxItem]
) -> None:
    for number in range(60):
        _enqueue(session_factory, f"message {number}", key=f"k{number}")
    barrier = threading.Barrier(2)

    def deliverer() -> None:
        barrier.wait()
        while outbox.deliver_outbox(session_factory, limit=7).sent:
            pass

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(item.dedupe_key for item in sms)
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert _count(session_factory, OutboxMessage, state="sent") == 60
