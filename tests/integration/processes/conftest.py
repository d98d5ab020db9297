"""Fixtures for the shipped processes: deploy bpmn/, fake connector operators, a driver.

Connector-calling operators (warehouse.*, payments.*, courier.*, notify.*, loyalty.*,
budget.reserve/spend) are registered here as throw-away *job* operators that record their
calls, so the processes run exactly as in production: the service task is left STARTED, a
job row is written, and the driver runs the job like a worker (`engine.jobs.run_job`).
Pure operators (leads.route, budget.check, ids.new) are the real ones from `handlers/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

# Importing the handler modules registers the pure operators.
import handlers.budget
import handlers.ids
import handlers.routing  # noqa: F401
from engine import service
from engine.actor import Actor
from engine.db import session_scope
from engine.errors import NotFoundError
from engine.jobs import install_job_dispatch, run_job
from engine.models import HumanTask, Job, ProcessInstance, Timer, utcnow
from engine.operators import OPERATORS, HandlerContext, Operator
from engine.timers import fire_due_timers

BPMN_DIR = Path(__file__).resolve().parents[3] / "bpmn"
FORMS_DIR = BPMN_DIR / "forms"

CONNECTOR_OPERATORS = (
    "warehouse.create_order",
    "warehouse.check_stock",
    "warehouse.write_off",
    "warehouse.register_payment",
    "warehouse.cancel_order",
    "payments.create_link",
    "payments.create_receipt",
    "courier.quote",
    "courier.create_shipment",
    "courier.track",
    "notify.sms",
    "notify.message",
    "loyalty.credit",
    "budget.reserve",
    "budget.spend",
)

OPERATOR = Actor("olya", groups=frozenset({"operators"}), roles=frozenset({"manager"}))
MANAGER = Actor("ivanov", groups=frozenset({"managers"}), roles=frozenset({"manager"}))
OTHER_MANAGER = Actor("petrov", groups=frozenset({"managers"}), roles=frozenset({"manager"}))
WAREHOUSE = Actor("sklad", groups=frozenset({"warehouse"}), roles=frozenset({"warehouse"}))
ACCOUNTANT = Actor("buh", groups=frozenset({"accountants"}), roles=frozenset({"accountant"}))
EMPLOYEE = Actor("masha", groups=frozenset({"managers"}), roles=frozenset({"manager"}))


def process_files(bpmn_name: str, form_prefix: str) -> list[tuple[str, bytes]]:
    """A process file and its forms, as one upload (names are basenames, like deploy_directory)."""
    paths = [BPMN_DIR / bpmn_name, *sorted(FORMS_DIR.glob(f"{form_prefix}-*.json"))]
    return [(path.name, path.read_bytes()) for path in paths]


@dataclass
class Call:
    operator: str
    params: dict[str, Any]
    idempotency_key: str


@dataclass
class FakeOperators:
    """Recorded calls of the fake connector operators and what each one answers."""

    calls: list[Call] = field(default_factory=list)
    answers: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)

    def answer(self, operator_id: str, value: Any) -> None:
        """Answer `operator_id` with `value`, or with `value(params)` when it is callable."""
        self.answers[operator_id] = value if callable(value) else (lambda _params: value)

    def of(self, operator_id: str) -> list[dict[str, Any]]:
        """The parameters of every call of `operator_id`, in order."""
        return [call.params for call in self.calls if call.operator == operator_id]

    def names(self) -> list[str]:
        return [call.operator for call in self.calls]

    def handler(self, operator_id: str) -> Callable[..., Any]:
        def fake(ctx: HandlerContext, **params: Any) -> Any:
            self.calls.append(Call(operator_id, params, ctx.idempotency_key))
            answer = self.answers.get(operator_id)
            return answer(params) if answer is not None else {"ok": True}

        return fake


@pytest.fixture
def fakes() -> Iterator[FakeOperators]:
    """Fake job operators for every connector operator id; the previous ones come back after."""
    saved: dict[str, Operator | None] = {}
    recorder = FakeOperators()
    for operator_id in CONNECTOR_OPERATORS:
        try:
            saved[operator_id] = OPERATORS.get(operator_id)
        except NotFoundError:
            saved[operator_id] = None
        OPERATORS.register(operator_id, max_attempts=3)(recorder.handler(operator_id))
    yield recorder
    for operator_id, previous in saved.items():
        if previous is None:
            OPERATORS.unregister(operator_id)
        else:
            OPERATORS.register(
                previous.id,
                inline=previous.inline,
                max_attempts=previous.max_attempts,
                backoff_base=previous.backoff_base,
            )(previous.func)


SAME = "<unchanged: the same value as before>"


class Driver:
    """Drives instances through engine.service like the API and the workers would."""

    def __init__(self, factory: sessionmaker[Session], sent_jobs: list[int]) -> None:
        self.factory = factory
        self.sent_jobs = sent_jobs

    # --- actions (each one commits, then runs the jobs it created, like a worker) --------
    def deploy(self, bpmn_name: str, form_prefix: str) -> service.DeployOutcome:
        with session_scope(self.factory) as session:
            return service.deploy(session, files=process_files(bpmn_name, form_prefix))

    def start(self, key: str, variables: dict[str, Any], actor: Actor | None = None) -> str:
        with session_scope(self.factory) as session:
            instance_id = service.start_instance(
                session, key=key, variables=variables, actor=actor
            ).id
        self.run_jobs()
        return instance_id

    def deliver(
        self,
        name: str,
        correlation: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        run_jobs: bool = True,
    ) -> dict[str, list[str]]:
        with session_scope(self.factory) as session:
            result = service.deliver_message(
                session,
                name=name,
                correlation=correlation,
                variables=variables,
                idempotency_key=idempotency_key,
            )
        if run_jobs:
            self.run_jobs()
        return result

    def complete(self, task: HumanTask, data: dict[str, Any], actor: Actor) -> None:
        with session_scope(self.factory) as session:
            service.complete_task(session, task_id=task.id, data=data, actor=actor)
        self.run_jobs()

    def claim(self, task: HumanTask, actor: Actor) -> None:
        with session_scope(self.factory) as session:
            service.claim_task(session, task_id=task.id, actor=actor)

    def run_jobs(self, *, hold: str | None = None) -> None:
        """Run every sent job to its end, like a worker (fake handlers never fail);
        jobs of operator `hold` stay queued, as if their worker were slow."""
        held: list[int] = []
        while self.sent_jobs:
            job_id = self.sent_jobs.pop(0)
            if hold is not None and self._operator_of(job_id) == hold:
                held.append(job_id)
                continue
            outcome = run_job(self.factory, job_id)
            assert outcome.status == "done", outcome
        self.sent_jobs.extend(held)

    def _operator_of(self, job_id: int) -> str:
        with session_scope(self.factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job.operator

    def fire_timers(self, after: timedelta) -> int:
        """Fire every timer due within `after` from now (time moves, nobody sleeps)."""
        fired = fire_due_timers(self.factory, now=utcnow() + after)
        self.run_jobs()
        return fired

    def messages_sent(self, instance_id: str) -> list[tuple[str | None, dict[str, list[str]]]]:
        """The messages the instance threw (send tasks, message throw/end events), oldest
        first, as (message name, where it landed). The engine delivers them itself, in the
        thrower's transaction, and records each as a `message_sent` history event whose
        changes are {"delivered_to": [[], ids], "started": [[], ids]}."""
        with session_scope(self.factory) as session:
            history = service.list_history(session, instance_id=instance_id, limit=100_000)
        return [
            (event.element_name, {key: pair[1] for key, pair in event.changes.items()})
            for event in history
            if event.type == "message_sent"
        ]

    def received(self, instance_id: str, element_id: str, variable: str) -> list[Any]:
        """What each message caught by `element_id` put into `variable` (its
        messageVariable), oldest first, read from the instance's history; a message that
        left it as it was shows as SAME (a repeat)."""
        with session_scope(self.factory) as session:
            history = service.list_history(session, instance_id=instance_id, limit=100_000)
        return [
            event.changes[variable][1] if variable in event.changes else SAME
            for event in history
            if event.type == "message_received" and event.element_id == element_id
        ]

    # --- reads -----------------------------------------------------------------------------
    def instance(self, instance_id: str) -> ProcessInstance:
        with session_scope(self.factory) as session:
            found = session.get(ProcessInstance, instance_id)
            assert found is not None
            return found

    def variables(self, instance_id: str) -> dict[str, Any]:
        return dict(self.instance(instance_id).variables)

    def instances(self, key: str) -> list[ProcessInstance]:
        with session_scope(self.factory) as session:
            stmt = select(ProcessInstance).where(ProcessInstance.key == key)
            return list(session.scalars(stmt.order_by(ProcessInstance.created_at)))

    def tasks(self, instance_id: str, state: str = "open") -> list[HumanTask]:
        with session_scope(self.factory) as session:
            stmt = select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.state == state
            )
            return list(session.scalars(stmt.order_by(HumanTask.created_at)))

    def task(self, instance_id: str, element_id: str) -> HumanTask:
        """The one open task of `element_id`."""
        found = [t for t in self.tasks(instance_id) if t.element_id == element_id]
        assert len(found) == 1, [t.element_id for t in self.tasks(instance_id)]
        return found[0]

    def timers(self, instance_id: str) -> dict[str, datetime]:
        with session_scope(self.factory) as session:
            stmt = select(Timer).where(Timer.instance_id == instance_id, Timer.state == "waiting")
            return {t.element_id: t.due_at for t in session.scalars(stmt)}

    def jobs(self, instance_id: str) -> list[Job]:
        with session_scope(self.factory) as session:
            stmt = select(Job).where(Job.instance_id == instance_id).order_by(Job.id)
            return list(session.scalars(stmt))

    def active(self, instance_id: str) -> list[str]:
        return sorted(a["element_id"] for a in self.instance(instance_id).active)


@pytest.fixture
def driver(session_factory: sessionmaker[Session], fakes: FakeOperators) -> Iterator[Driver]:
    """A driver whose jobs run at once (a worker standing by), on a real database."""
    sent: list[int] = []
    uninstall = install_job_dispatch(session_factory, sent.append)
    yield Driver(session_factory, sent)
    uninstall()


SLACK = timedelta(seconds=30)


def close_to(moment: datetime, expected: datetime, slack: timedelta = SLACK) -> bool:
    """True when two moments differ by less than `slack` (test runs take a few seconds)."""
    return abs(moment - expected) < slack
