"""Races on one instance, bounded state for long loops, message correlation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.db import session_scope
from engine.errors import ConflictError, NotFoundError
from engine.models import HumanTask, ProcessInstance
from tests.integration.engine.conftest import MANAGER, REVIEW_FILES

LOOP_ITERATIONS = 5000


def _open_task(session: Session, instance_id: str) -> HumanTask:
    stmt = select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
    return session.scalars(stmt).one()


def test_two_threads_completing_one_task_one_wins(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy(*REVIEW_FILES)
    with session_scope(session_factory) as session:
        instance = service.start_instance(session, key="review", variables={"amount": 1})
        task_id = _open_task(session, instance.id).id
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def complete() -> None:
        barrier.wait()
        try:
            with session_scope(session_factory) as session:
                service.complete_task(
                    session,
                    task_id=task_id,
                    data={"decision": "approve", "size": 40},
                    actor=MANAGER,
                )
            outcomes.append("ok")
        except ConflictError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "task_already_completed"]
    with session_scope(session_factory) as session:
        history = service.list_history(session, instance_id=instance.id)
    assert [e.type for e in history].count("task_completed") == 1


def _state_size(session: Session, instance_id: str) -> int:
    instance = session.get(ProcessInstance, instance_id)
    assert instance is not None
    return len(json.dumps(instance.state))


def test_loop_of_5000_iterations_stays_bounded(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy("loop.bpmn")
    with session_scope(session_factory) as session:
        instance_id = service.start_instance(session, key="loop").id
    sizes: dict[int, int] = {}
    for iteration in range(1, LOOP_ITERATIONS + 1):
        with session_scope(session_factory) as session:
            task = _open_task(session, instance_id)
            service.complete_task(session, task_id=task.id, data={}, actor=MANAGER)
            if iteration in (10, LOOP_ITERATIONS):
                sizes[iteration] = _state_size(session, instance_id)
    with session_scope(session_factory) as session:
        instance = service.get_instance_or_raise(session, instance_id=instance_id)
        assert instance.status == "waiting"
        assert instance.variables["n"] == LOOP_ITERATIONS
        assert [a["element_id"] for a in instance.active] == ["answer"]
    assert sizes[LOOP_ITERATIONS] <= 2 * sizes[10], sizes


def test_message_correlates_by_index_and_starts_processes(
    session_factory: sessionmaker[Session], deploy: Callable[..., service.DeployOutcome]
) -> None:
    deploy("messages.bpmn")
    with session_scope(session_factory) as session:
        waiting = {
            order: service.start_instance(
                session, key="await_payment", variables={"order_id": order}
            ).id
            for order in ("A-17", "A-18")
        }
    with session_scope(session_factory) as session:
        result = service.deliver_message(
            session,
            name="payment_received",
            correlation={"order_id": "A-17"},
            variables={"amount": "1490.00"},
        )
    assert result == {"delivered_to": [waiting["A-17"]], "started": []}
    with session_scope(session_factory) as session:
        paid = service.get_instance_or_raise(session, instance_id=waiting["A-17"])
        unpaid = service.get_instance_or_raise(session, instance_id=waiting["A-18"])
        assert (paid.status, paid.variables["amount"]) == ("completed", "1490.00")
        assert unpaid.status == "waiting"
    with pytest.raises(NotFoundError) as missing, session_scope(session_factory) as session:
        service.deliver_message(session, name="payment_received", correlation={"order_id": "A-17"})
    assert missing.value.code == "no_matching_subscription"
    with session_scope(session_factory) as session:
        started = service.deliver_message(
            session, name="inbound_test", variables={"text": "привет"}
        )["started"]
    with session_scope(session_factory) as session:
        instance = service.get_instance_or_raise(session, instance_id=started[0])
        assert instance.key == "inbound_start" and instance.variables["text"] == "привет"
        assert [a["element_id"] for a in instance.active] == ["handle"]
