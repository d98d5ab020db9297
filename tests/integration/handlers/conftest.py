"""Handlers against the real sandbox doubles (uvicorn on a free port), driven by the engine.

The doubles come from tests/integration/connectors (one server per database kind); the
engine runs on its own test database. Jobs are run the way a worker runs them
(`engine.jobs.run_job`), with the clock moved over each backoff delay instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.actor import SYSTEM_ACTOR
from engine.db import session_scope
from engine.jobs import JobOutcome, install_job_dispatch, run_job
from engine.models import Incident, Job, ProcessInstance, utcnow
from handlers.clients import Clients, use_clients
from handlers.settings import HandlerSettings, point_at_sandbox
from tests.integration.connectors.conftest import (  # noqa: F401  (fixtures)
    Sandbox,
    sandbox,
    sandbox_server,
)


def service_task_bpmn(key: str, operator: str, params: dict[str, str], result: str) -> bytes:
    """start → one service task calling `operator` with `params` (expressions) → end."""
    parameters = "".join(
        f'<spiffworkflow:parameter id="{name}" type="any" value=\'{value}\' />'
        for name, value in params.items()
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_{key}" targetNamespace="http://potok.example/bpmn">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="{result}">
          <spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


@dataclass
class Engine:
    """Deploy, start, run jobs like a worker (clock jumps over backoff), retry incidents."""

    factory: sessionmaker[Session]
    sent: list[int]
    clock: datetime

    def deploy(self, key: str, operator: str, params: dict[str, str], result: str) -> None:
        with session_scope(self.factory) as session:
            files = [(f"{key}.bpmn", service_task_bpmn(key, operator, params, result))]
            service.deploy(session, files=files, deployed_by="tests")

    def start(self, key: str, variables: dict[str, Any]) -> str:
        with session_scope(self.factory) as session:
            return service.start_instance(session, key=key, variables=variables).id

    def drain(self) -> list[JobOutcome]:
        """Run every sent job until it is done or failed; retries wait on the moved clock."""
        outcomes = []
        self.clock = max(self.clock, utcnow())
        while self.sent:
            job_id = self.sent.pop(0)
            outcome = run_job(self.factory, job_id, now=self.clock)
            outcomes.append(outcome)
            if outcome.retry_in is not None:
                self.clock += timedelta(seconds=outcome.retry_in)
                self.sent.append(job_id)
        return outcomes

    def retry_incident(self, incident_id: int) -> None:
        with session_scope(self.factory) as session:
            service.retry_incident(session, incident_id=incident_id, actor=SYSTEM_ACTOR)

    def instance(self, instance_id: str) -> ProcessInstance:
        with session_scope(self.factory) as session:
            found = session.get(ProcessInstance, instance_id)
            assert found is not None
            return found

    def incidents(self, instance_id: str) -> list[Incident]:
        with session_scope(self.factory) as session:
            stmt = select(Incident).where(Incident.instance_id == instance_id)
            return list(session.scalars(stmt.order_by(Incident.id)))

    def job(self, instance_id: str) -> Job:
        with session_scope(self.factory) as session:
            return session.scalars(select(Job).where(Job.instance_id == instance_id)).one()


@pytest.fixture
def engine(session_factory: sessionmaker[Session]) -> Iterator[Engine]:
    sent: list[int] = []
    uninstall = install_job_dispatch(session_factory, sent.append)
    yield Engine(session_factory, sent, utcnow())
    uninstall()


@pytest.fixture
def clients(sandbox: Sandbox) -> Iterator[Clients]:  # noqa: F811
    """Every handler's clients pointed at the running doubles (short read timeouts)."""
    settings = point_at_sandbox(HandlerSettings(_env_file=None), sandbox.root)  # type: ignore[call-arg]
    quick = {
        name: getattr(settings, name).model_copy(update={"read_timeout": 0.5})
        for name in ("moysklad", "yookassa")
    }
    with use_clients(Clients(settings.model_copy(update=quick))) as built:
        yield built
