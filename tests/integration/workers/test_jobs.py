"""Jobs on real databases, driven in-process: retries, incidents, BPMN errors, leases, sweeper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import service
from engine.actor import SYSTEM_ACTOR
from engine.db import session_scope
from engine.errors import ConflictError
from engine.jobs import claim_job, retry_incident, run_job, sweep_jobs
from engine.models import Incident, Job, utcnow
from engine.operators import OPERATORS
from tests.integration.workers.conftest import (
    ScriptedOperator,
    drain,
    event_types,
    instance,
)

Deploy = Callable[..., service.DeployOutcome]


class Declined(Exception):
    """A permanent vendor answer with a business error code."""

    code = "card_declined"


class Broken(Exception):
    """A permanent failure with no code a diagram could catch."""


class Flaky(Exception):
    """A vendor hiccup that declares itself transient."""

    transient = True


def _start(factory: sessionmaker[Session], key: str = "job_flow", **variables: object) -> str:
    with session_scope(factory) as session:
        return service.start_instance(session, key=key, variables=variables).id


def _job(factory: sessionmaker[Session], instance_id: str) -> Job:
    with session_scope(factory) as session:
        return session.scalars(select(Job).where(Job.instance_id == instance_id)).one()


def _incidents(factory: sessionmaker[Session], instance_id: str) -> list[Incident]:
    with session_scope(factory) as session:
        stmt = select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
        return list(session.scalars(stmt))


def test_transient_failures_retry_with_backoff_then_complete_once(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    charge.errors = [TimeoutError("read timed out"), Flaky("503 from the gateway")]
    instance_id = _start(session_factory, order_id="A-1")
    assert instance(session_factory, instance_id).status == "running"
    assert len(sent_jobs) == 1  # sent after commit

    outcomes = drain(session_factory, sent_jobs)

    assert [o.status for o in outcomes] == ["retry", "retry", "done"]
    # backoff 2 ** attempt with equal jitter: [1, 2] s, then [2, 4] s
    assert 1 <= outcomes[0].retry_in <= 2 and 2 <= outcomes[1].retry_in <= 4  # type: ignore[operator]
    assert [c.attempt for c in charge.calls] == [1, 2, 3]
    assert len({c.idempotency_key for c in charge.calls}) == 1
    assert list(charge.effects.values()) == [1]  # the side effect happened once
    done = instance(session_factory, instance_id)
    assert done.status == "completed"
    assert done.variables["charge"] == {"ok": True, "order_id": "A-1"}
    assert done.variables["paid"] is True
    job = _job(session_factory, instance_id)
    assert (job.state, job.attempts, job.result) == ("done", 3, {"ok": True, "order_id": "A-1"})
    assert "job_completed" in event_types(session_factory, instance_id)


def test_exhausted_retries_become_an_incident(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    charge.errors = [ConnectionError("refused")] * 5
    instance_id = _start(session_factory, order_id="A-2")

    outcomes = drain(session_factory, sent_jobs)

    assert [o.status for o in outcomes] == ["retry"] * 4 + ["failed"]
    (incident,) = _incidents(session_factory, instance_id)
    assert (incident.state, incident.operator, incident.attempts) == ("open", "test.charge", 5)
    assert incident.error_code == "ConnectionError" and "gave up after 5" in incident.message
    assert instance(session_factory, instance_id).status == "error"


def test_permanent_error_incident_then_fix_and_retry_completes(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    charge.errors = [Broken("account is blocked")]
    instance_id = _start(session_factory, order_id="A-3")

    assert [o.status for o in drain(session_factory, sent_jobs)] == ["failed"]
    (incident,) = _incidents(session_factory, instance_id)
    assert (incident.error_code, incident.attempts) == ("Broken", 1)
    assert incident.job_id is not None and "account is blocked" in incident.message
    shown = instance(session_factory, instance_id)
    assert shown.status == "error" and shown.error is not None
    assert charge.effects == {}

    # The cause is fixed (the scripted errors are used up); retry runs the job again.
    with session_scope(session_factory) as session:
        retried = retry_incident(session, incident_id=incident.id, actor=SYSTEM_ACTOR)
        assert retried.state == "resolved"
    assert sent_jobs == [incident.job_id]
    assert instance(session_factory, instance_id).status == "running"
    assert [o.status for o in drain(session_factory, sent_jobs)] == ["done"]
    assert instance(session_factory, instance_id).status == "completed"
    assert sum(charge.effects.values()) == 1
    with pytest.raises(ConflictError), session_scope(session_factory) as session:
        retry_incident(session, incident_id=incident.id, actor=SYSTEM_ACTOR)
    assert "incident_retried" in event_types(session_factory, instance_id)


def test_error_code_caught_by_boundary_event_runs_the_error_path(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    charge.errors = [Declined("insufficient funds")]
    instance_id = _start(session_factory, order_id="A-4")

    assert [o.status for o in drain(session_factory, sent_jobs)] == ["error_thrown"]
    done = instance(session_factory, instance_id)
    assert done.status == "completed"
    assert done.variables.get("declined") is True and "paid" not in done.variables
    assert _incidents(session_factory, instance_id) == []
    assert _job(session_factory, instance_id).state == "error_thrown"
    assert "job_error_thrown" in event_types(session_factory, instance_id)


def test_uncaught_error_code_is_an_incident(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    other = Declined("expired card")
    other.code = "card_expired"  # type: ignore[misc]
    charge.errors = [other]
    instance_id = _start(session_factory, order_id="A-5")
    assert [o.status for o in drain(session_factory, sent_jobs)] == ["failed"]
    assert [i.error_code for i in _incidents(session_factory, instance_id)] == ["card_expired"]


def test_expired_lease_lets_another_worker_finish_and_the_loser_changes_nothing(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    instance_id = _start(session_factory, order_id="A-6")
    job_id = sent_jobs.pop()
    t0 = utcnow()
    with session_scope(session_factory) as session:
        first = claim_job(session, job_id, now=t0, lease_seconds=30)
    assert first is not None and first.attempt == 1
    # While the lease holds, the job is busy for everyone else.
    assert run_job(session_factory, job_id, now=t0 + timedelta(seconds=5)).status == "busy"
    # The first worker died; after its lease the sweeper hands the job on.
    with session_scope(session_factory) as session:
        assert sweep_jobs(session, now=t0 + timedelta(seconds=31), grace_seconds=10) == [job_id]
    assert run_job(session_factory, job_id, now=t0 + timedelta(seconds=31)).status == "done"
    # The first run comes back from the dead: its result is discarded.
    from engine.jobs import _on_success

    assert _on_success(session_factory, first, {"ok": "late"}).status == "cancelled"
    assert instance(session_factory, instance_id).variables["charge"]["ok"] is True
    assert event_types(session_factory, instance_id).count("job_completed") == 1


def test_sweeper_resends_overdue_pending_jobs_once_per_grace_period(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    _start(session_factory, order_id="A-7")
    job_id = sent_jobs.pop()  # the broker lost this message
    t0 = utcnow()
    with session_scope(session_factory) as session:
        assert sweep_jobs(session, now=t0 + timedelta(seconds=2), grace_seconds=10) == []
    with session_scope(session_factory) as session:
        assert sweep_jobs(session, now=t0 + timedelta(seconds=11), grace_seconds=10) == [job_id]
    with session_scope(session_factory) as session:
        assert sweep_jobs(session, now=t0 + timedelta(seconds=12), grace_seconds=10) == []
    assert run_job(session_factory, job_id, now=t0 + timedelta(seconds=12)).status == "done"
    with session_scope(session_factory) as session:
        assert sweep_jobs(session, now=t0 + timedelta(hours=1), grace_seconds=10) == []


def test_jobs_are_sent_only_after_commit(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        service.start_instance(session, key="job_flow", variables={"order_id": "A-8"})
        session.flush()
        assert sent_jobs == []
        raise RuntimeError("the request failed after the instance was started")
    assert sent_jobs == []
    with session_scope(session_factory) as session:
        assert session.scalars(select(Job)).all() == []
    _start(session_factory, order_id="A-9")
    assert len(sent_jobs) == 1


def test_terminated_instance_cancels_its_job(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    instance_id = _start(session_factory, order_id="A-10")
    with session_scope(session_factory) as session:
        service.terminate_instance(session, instance_id=instance_id, actor=SYSTEM_ACTOR)
    assert [o.status for o in drain(session_factory, sent_jobs)] == ["cancelled"]
    assert charge.calls == []


@pytest.fixture
def lookup() -> Iterator[list[Exception]]:
    """`test.lookup`: an inline operator (runs in the unit of work) failing while errors last."""
    errors: list[Exception] = []

    def handler() -> dict[str, bool]:
        if errors:
            raise errors.pop(0)
        return {"found": True}

    OPERATORS.register("test.lookup", inline=True)(handler)
    yield errors
    OPERATORS.unregister("test.lookup")


def test_inline_operator_failure_is_a_script_incident_that_retries(
    session_factory: sessionmaker[Session], deploy: Deploy, lookup: list[Exception]
) -> None:
    deploy("inline_flow.bpmn")
    lookup.extend([ValueError("catalogue not loaded"), ValueError("still not loaded")])
    instance_id = _start(session_factory, key="inline_flow")
    assert instance(session_factory, instance_id).status == "error"
    (incident,) = _incidents(session_factory, instance_id)
    assert incident.job_id is None and incident.element_id == "lookup"
    assert "catalogue not loaded" in incident.message

    with session_scope(session_factory) as session:  # fails again: a new incident
        retry_incident(session, incident_id=incident.id, actor=SYSTEM_ACTOR)
    first, second = _incidents(session_factory, instance_id)
    assert (first.state, second.state) == ("resolved", "open")
    assert instance(session_factory, instance_id).status == "error"

    with session_scope(session_factory) as session:
        retry_incident(session, incident_id=second.id, actor=SYSTEM_ACTOR)
    done = instance(session_factory, instance_id)
    assert done.status == "completed" and done.variables["found"] == {"found": True}
    assert all(i.state == "resolved" for i in _incidents(session_factory, instance_id))


def test_a_job_that_keeps_losing_its_worker_becomes_an_incident(
    session_factory: sessionmaker[Session],
    deploy: Deploy,
    charge: ScriptedOperator,
    sent_jobs: list[int],
) -> None:
    deploy("job_flow.bpmn")
    instance_id = _start(session_factory, order_id="A-11")
    job_id = sent_jobs.pop()
    now = utcnow()
    for _ in range(5):  # five workers die holding it (max_attempts = 5)
        with session_scope(session_factory) as session:
            assert claim_job(session, job_id, now=now, lease_seconds=30) is not None
        now += timedelta(seconds=31)
    outcome = run_job(session_factory, job_id, now=now)
    assert outcome.status == "failed" and charge.calls == []
    (incident,) = _incidents(session_factory, instance_id)
    assert incident.error_code == "WorkerLost" and "lost 5 times" in incident.message
