"""Durable timers on real databases: exactly-once firing under concurrency, boundary timers,
cycles, event-based gateways and plain ISO 8601 expressions. Time moves by passing `now` or
rewriting `due_at`, never by sleeping."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.errors import NotFoundError
from engine.models import (
    HumanTask,
    InstanceEvent,
    MessageSubscription,
    ProcessInstance,
    Timer,
    utcnow,
)
from engine.timers import claim_due_timers, fire_due_timers
from tests.integration.workers.conftest import event_types, instance

Deploy = Callable[..., service.DeployOutcome]
INSTANCES = 200


def _start_many(factory: sessionmaker[Session], key: str, count: int) -> list[str]:
    with session_scope(factory) as session:
        return [service.start_instance(session, key=key).id for _ in range(count)]


def _timers(factory: sessionmaker[Session], instance_id: str) -> list[tuple[str, str]]:
    with session_scope(factory) as session:
        stmt = select(Timer.element_id, Timer.state).where(Timer.instance_id == instance_id)
        return sorted((row[0], row[1]) for row in session.execute(stmt))


def _fired_counts(factory: sessionmaker[Session]) -> Counter[str]:
    with session_scope(factory) as session:
        stmt = select(InstanceEvent.instance_id).where(InstanceEvent.type == "timer_fired")
        return Counter(session.scalars(stmt))


def test_200_one_second_timers_fire_exactly_once_from_two_concurrent_firers(
    db_engine: Engine, session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    ids = _start_many(session_factory, "timer_wait", INSTANCES)
    with session_scope(session_factory) as session:
        due = session.scalars(select(func.max(Timer.due_at))).one()
        assert session.scalar(select(func.count()).select_from(Timer)) == INSTANCES
    assert due is not None and due <= utcnow() + timedelta(seconds=1.5)
    assert fire_due_timers(session_factory, now=utcnow() - timedelta(seconds=5)) == 0

    fired: list[int] = []
    barrier = threading.Barrier(2)

    def firer() -> None:
        barrier.wait()
        # Small batches so the two firers interleave claims all the way through.
        fired.append(fire_due_timers(session_factory, limit=10, now=due + timedelta(seconds=1)))

    threads = [threading.Thread(target=firer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(fired) == INSTANCES, fired
    if db_engine.dialect.name == "postgresql":  # SKIP LOCKED: both firers did work
        assert all(fired), fired
    # (SQLite's busy handler is not fair: one writer may get every claim; still once each.)
    counts = _fired_counts(session_factory)
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    with session_scope(session_factory) as session:
        statuses = Counter(session.scalars(select(ProcessInstance.status)))
        assert statuses == {"completed": INSTANCES}
        assert session.scalar(select(func.count()).select_from(Timer)) == 0
    assert fire_due_timers(session_factory, now=due + timedelta(hours=1)) == 0


def test_timers_survive_as_rows_and_fire_when_their_row_says_so(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    (instance_id,) = _start_many(session_factory, "timer_escalate", 1)
    assert _timers(session_factory, instance_id) == [("remind", "waiting"), ("too_late", "waiting")]
    # Move time by rewriting the row: the one-hour escalation is due now.
    with session_scope(session_factory) as session:
        session.execute(
            update(Timer)
            .where(Timer.element_id == "too_late")
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
    assert fire_due_timers(session_factory) == 1

    done = instance(session_factory, instance_id)
    assert done.status == "completed" and done.variables["escalated"] is True
    assert _timers(session_factory, instance_id) == []  # the reminder cycle went with it
    with session_scope(session_factory) as session:
        task = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one()
        assert task.state == "cancelled"  # the interrupting timer took the task away


def test_non_interrupting_cycle_reminds_twice_then_the_task_still_waits(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    (instance_id,) = _start_many(session_factory, "timer_escalate", 1)
    start = utcnow()
    assert fire_due_timers(session_factory, now=start + timedelta(minutes=11)) == 1
    assert _timers(session_factory, instance_id) == [("remind", "waiting"), ("too_late", "waiting")]
    assert fire_due_timers(session_factory, now=start + timedelta(minutes=22)) == 1
    assert _timers(session_factory, instance_id) == [("too_late", "waiting")]  # R2: done
    assert fire_due_timers(session_factory, now=start + timedelta(minutes=33)) == 0

    waiting = instance(session_factory, instance_id)
    assert waiting.status == "waiting"
    assert "approve" in [a["element_id"] for a in waiting.active]
    with session_scope(session_factory) as session:
        reminders = session.scalar(
            select(func.count())
            .select_from(InstanceEvent)
            .where(
                InstanceEvent.instance_id == instance_id,
                InstanceEvent.type == "element_completed",
                InstanceEvent.element_id == "send_reminder",
            )
        )
    assert reminders == 2
    assert event_types(session_factory, instance_id).count("timer_fired") == 2


def test_timer_start_event_with_an_iso_date_waits_then_fires(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    (instance_id,) = _start_many(session_factory, "timer_start", 1)
    assert instance(session_factory, instance_id).status == "waiting"
    with session_scope(session_factory) as session:
        row = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).one()
    assert row.element_id == "s_start"
    assert row.due_at.isoformat() == "2099-01-01T06:00:00+00:00"  # timeDate …T09:00+03:00
    assert fire_due_timers(session_factory, now=utcnow() + timedelta(days=365)) == 0
    assert fire_due_timers(session_factory, now=row.due_at) == 1
    assert instance(session_factory, instance_id).status == "completed"


def test_lost_firer_claim_lapses_and_the_timer_fires_once(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    (instance_id,) = _start_many(session_factory, "timer_wait", 1)
    later = utcnow() + timedelta(seconds=5)
    with session_scope(session_factory) as session:  # a firer claims, then dies
        assert len(claim_due_timers(session, now=later, limit=10, lease_seconds=30)) == 1
    assert fire_due_timers(session_factory, now=later + timedelta(seconds=10)) == 0
    assert fire_due_timers(session_factory, now=later + timedelta(seconds=31)) == 1
    assert instance(session_factory, instance_id).status == "completed"
    assert _fired_counts(session_factory) == {instance_id: 1}


def test_row_of_a_finished_instance_is_dropped(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("timers.bpmn")
    (instance_id,) = _start_many(session_factory, "timer_wait", 1)
    with session_scope(session_factory) as session:
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id)
            .values(status="terminated")
        )
        session.execute(
            insert(Timer).values(
                instance_id=instance_id, task_guid="x", element_id="ghost", due_at=utcnow()
            )
        )
    assert fire_due_timers(session_factory, now=utcnow() + timedelta(seconds=5)) == 0
    assert _timers(session_factory, instance_id) == []


def _rows(factory: sessionmaker[Session], instance_id: str) -> tuple[int, int]:
    with session_scope(factory) as session:
        timers = session.scalar(
            select(func.count()).select_from(Timer).where(Timer.instance_id == instance_id)
        )
        subscriptions = session.scalar(
            select(func.count())
            .select_from(MessageSubscription)
            .where(MessageSubscription.instance_id == instance_id)
        )
    return int(timers or 0), int(subscriptions or 0)


def test_event_based_gateway_waits_for_the_message_or_the_timer(
    session_factory: sessionmaker[Session], deploy: Deploy
) -> None:
    deploy("payment_or_timeout.bpmn")
    with session_scope(session_factory) as session:
        paid, late = (
            service.start_instance(
                session, key="payment_or_timeout", variables={"order_ref": ref}
            ).id
            for ref in ("R-1", "R-2")
        )
    assert _rows(session_factory, paid) == (1, 1)  # one timer row and one subscription
    with session_scope(session_factory) as session:
        delivered = service.deliver_message(
            session, name="order_paid", correlation={"order_ref": "R-1"}
        )
    assert delivered["delivered_to"] == [paid]
    assert _rows(session_factory, paid) == (0, 0)  # the other branch's wait went away

    assert fire_due_timers(session_factory, now=utcnow() + timedelta(days=3, minutes=1)) == 1
    assert instance(session_factory, paid).variables["outcome"] == "shipped"
    assert instance(session_factory, late).variables["outcome"] == "cancelled"
    assert _rows(session_factory, late) == (0, 0)
    with pytest.raises(NotFoundError), session_scope(session_factory) as session:
        service.deliver_message(session, name="order_paid", correlation={"order_ref": "R-2"})
