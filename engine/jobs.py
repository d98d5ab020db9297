"""Jobs: service tasks whose handler runs in a worker, outside any database transaction.

A job row moves through these states (the row, not the broker message, is the truth):

    pending ──claim──▶ running ──handler ok──▶ done
       ▲                  │
       ├──transient error─┤  (backoff + jitter, while attempts < max_attempts)
       │                  ├──permanent error, code caught by a boundary──▶ error_thrown
       │                  └──permanent error / retries exhausted──▶ failed (+ open incident)
       └──retry_incident──┘
    any ──task went away (instance terminated, interrupting boundary fired)──▶ cancelled

While running, `next_run_at` is the lease: once it has passed the job may be claimed again
(the worker was killed). Handlers are idempotent on `ctx.idempotency_key`, so a handler that
is overtaken by its own re-run does no harm; only the run that still owns the row (same
attempt number) completes the task.

The error contract for handlers (engine never imports `connectors`):
- transient (retried): an exception with `transient = True`, `TimeoutError`,
  `ConnectionError`, or a subclass of a class named `TransientConnectorError`; a
  `retry_after` attribute (seconds) stretches the next delay.
- permanent: everything else. Its `code` (or `vendor_code`) is matched against the error
  boundary events of the task; a match throws the BPMN error there instead of an incident.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, and_, event, func, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from engine.actor import Actor
from engine.db import session_scope
from engine.errors import ConflictError, InstanceFinished, NotFoundError, PotokError
from engine.instances import (
    UnitOfWork,
    lock_instance,
    open_unit_of_work,
    persist,
    run_engine,
)
from engine.models import Incident, InstanceEvent, Job, ProcessInstance, utcnow
from engine.operators import OPERATORS, HandlerContext
from engine.projections import NEW_JOBS_KEY
from engine.runtime import task_ref, to_jsonable
from engine.spiff_ext import JOB_REQUEST_KEY

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]
JobSender = Callable[[int], None]
MAX_ERROR_TEXT = 4000


# --- the error contract -------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """True if retrying the same call later may succeed."""
    flag = getattr(exc, "transient", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return any(cls.__name__ == "TransientConnectorError" for cls in type(exc).__mro__)


def bpmn_error_code(exc: BaseException) -> str | None:
    """The error code a BPMN error boundary may catch, or None."""
    if isinstance(exc, PotokError):  # the engine's own failures are never business errors
        return None
    for attribute in ("code", "vendor_code"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def backoff_delay(
    base: float, attempt: int, *, cap: float, retry_after: float | None = None
) -> float:
    """Seconds before attempt `attempt + 1`: base ** attempt, capped, with 'equal jitter'."""
    delay = min(cap, max(base, 1.0) ** attempt)
    # Half fixed, half random: spreads a burst of retries without ever retrying at once.
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return min(delay, cap)


class WorkerLost(Exception):
    """The job's lease expired more often than it may be attempted (permanent)."""

    transient = False
    code = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]


# --- dispatch after commit ----------------------------------------------------------------


def install_job_dispatch(factory: SessionFactory, send: JobSender) -> Callable[[], None]:
    """Send each committed session's new job ids with `send`; returns an uninstaller.

    Ids reach `session.info[NEW_JOBS_KEY]` in `persist`. Sending after commit means a worker
    never looks for a row that is not there yet, and nothing is sent for a rollback. A
    failed send is only logged: the job row is committed and the sweeper re-sends it.
    """

    def after_commit(session: Session) -> None:
        for job_id in session.info.pop(NEW_JOBS_KEY, []):
            try:
                send(job_id)
            except Exception:
                log.warning("could not send job %s; the sweeper will", job_id, exc_info=True)

    def after_rollback(session: Session, rolled_back: SessionTransaction) -> None:
        if not rolled_back.nested:  # a savepoint's rollback leaves the outer work intact
            session.info.pop(NEW_JOBS_KEY, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", after_rollback)

    def uninstall() -> None:
        event.remove(factory, "after_commit", after_commit)
        event.remove(factory, "after_soft_rollback", after_rollback)

    return uninstall


# --- claiming -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease of, with what the handler needs."""

    id: int
    instance_id: str
    task_guid: str
    element_id: str
    operator: str
    params: dict[str, Any]
    attempt: int
    max_attempts: int
    backoff_base: float
    idempotency_key: str
    business_key: str | None


@dataclass(frozen=True)
class JobOutcome:
    """What one run_job call did; `retry_in` is set when the job should be sent again."""

    job_id: int
    status: str  # done | retry | failed | error_thrown | cancelled | busy | not_due | gone
    retry_in: float | None = None
    incident_id: int | None = None


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.state == "pending", Job.next_run_at <= now),
        and_(Job.state == "running", Job.next_run_at < now),  # lease expired: worker lost
    )


def claim_job(
    session: Session, job_id: int, *, now: datetime, lease_seconds: float
) -> ClaimedJob | None:
    """Take the job if it is due (or its lease expired); None if someone else holds it."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(
            state="running",
            attempts=Job.attempts + 1,
            next_run_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).one()
    instance = session.get(ProcessInstance, job.instance_id)
    return ClaimedJob(
        id=job.id,
        instance_id=job.instance_id,
        task_guid=job.task_guid,
        element_id=job.element_id,
        operator=job.operator,
        params=dict(job.params),
        attempt=job.attempts,
        max_attempts=job.max_attempts,
        backoff_base=job.backoff_base,
        idempotency_key=job.idempotency_key,
        business_key=instance.business_key if instance else None,
    )


def _unclaimed_outcome(session: Session, job_id: int, now: datetime) -> JobOutcome:
    job = session.get(Job, job_id)
    if job is None:
        return JobOutcome(job_id, "gone")
    if job.state == "pending":  # sent early (countdown vs clock skew): come back when due
        wait = max((job.next_run_at - now).total_seconds(), 0.0)
        return JobOutcome(job_id, "not_due", retry_in=wait)
    return JobOutcome(job_id, "busy" if job.state == "running" else job.state)


# --- running ------------------------------------------------------------------------------


def run_job(
    factory: SessionFactory,
    job_id: int,
    *,
    now: datetime | None = None,
    lease_seconds: float = 300.0,
    backoff_cap_seconds: float = 600.0,
    services: dict[str, Any] | None = None,
) -> JobOutcome:
    """Claim job `job_id`, run its handler outside any transaction, and record the result.

    `now` fixes the clock (tests move time instead of sleeping).
    """
    clock = (lambda: now) if now is not None else utcnow
    with session_scope(factory) as session:
        claimed = claim_job(session, job_id, now=clock(), lease_seconds=lease_seconds)
        if claimed is None:
            return _unclaimed_outcome(session, job_id, clock())
    if claimed.attempt > claimed.max_attempts:
        # Only runs lost with their worker get here (a failed attempt is never re-queued
        # past the budget): a handler that keeps killing workers becomes an incident.
        lost = WorkerLost(f"the worker running this job was lost {claimed.attempt - 1} times")
        return _on_failure(factory, claimed, lost, clock(), backoff_cap_seconds)
    context = HandlerContext(
        instance_id=claimed.instance_id,
        task_guid=claimed.task_guid,
        element_id=claimed.element_id,
        idempotency_key=claimed.idempotency_key,
        attempt=claimed.attempt,
        business_key=claimed.business_key,
        services=services or {},
    )
    try:
        result = OPERATORS.get(claimed.operator).call(claimed.params, context)
    except Exception as exc:
        log.info("job %s attempt %s failed: %s", job_id, claimed.attempt, _describe(exc))
        return _on_failure(factory, claimed, exc, clock(), backoff_cap_seconds)
    return _on_success(factory, claimed, result)


def _owned_job(session: Session, claimed: ClaimedJob) -> Job | None:
    """The job row if this run still owns it (nobody re-claimed it after our lease)."""
    job = session.scalars(
        select(Job)
        .where(Job.id == claimed.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if job is None or job.state != "running" or job.attempts != claimed.attempt:
        return None
    return job


def _open_for(session: Session, claimed: ClaimedJob) -> tuple[UnitOfWork, Job, Task] | None:
    """Lock the instance, then the job; the STARTED task the job belongs to, or None."""
    try:
        uow = open_unit_of_work(session, claimed.instance_id)
    except (InstanceFinished, NotFoundError):
        _cancel_if_owned(session, claimed)
        return None
    job = _owned_job(session, claimed)
    if job is None:
        return None
    task = uow.workflow.get_task_from_id(UUID(claimed.task_guid))
    if task is None or task.state != TaskState.STARTED:
        job.state, job.updated_at = "cancelled", utcnow()
        return None
    return uow, job, task


def _cancel_if_owned(session: Session, claimed: ClaimedJob) -> None:
    session.execute(
        update(Job)
        .where(Job.id == claimed.id, Job.state == "running", Job.attempts == claimed.attempt)
        .values(state="cancelled", updated_at=utcnow())
    )


def _on_success(factory: SessionFactory, claimed: ClaimedJob, result: Any) -> JobOutcome:
    with session_scope(factory) as session:
        opened = _open_for(session, claimed)
        if opened is None:
            return JobOutcome(claimed.id, "cancelled")
        uow, job, task = opened
        task.data[task.task_spec.result_variable] = result
        task.internal_data.pop(JOB_REQUEST_KEY, None)
        element = task_ref(task)
        task.complete()
        error = run_engine(uow)
        persist(uow, action="job_completed", actor=None, element=element, error=error)
        job.state, job.result, job.updated_at = "done", to_jsonable(result), utcnow()
        _reflect_open_incidents(session, uow.instance)
    return JobOutcome(claimed.id, "done")


def _on_failure(
    factory: SessionFactory,
    claimed: ClaimedJob,
    exc: Exception,
    now: datetime,
    backoff_cap_seconds: float,
) -> JobOutcome:
    transient = is_transient(exc)
    if transient and claimed.attempt < claimed.max_attempts:
        delay = backoff_delay(
            claimed.backoff_base,
            claimed.attempt,
            cap=backoff_cap_seconds,
            retry_after=getattr(exc, "retry_after", None),
        )
        return _schedule_retry(factory, claimed, exc, now, delay)
    with session_scope(factory) as session:
        opened = _open_for(session, claimed)
        if opened is None:
            return JobOutcome(claimed.id, "cancelled")
        uow, job, task = opened
        code = None if transient else bpmn_error_code(exc)
        if code is not None and _throw_bpmn_error(task, code, exc):
            error = run_engine(uow)
            persist(uow, action="job_error_thrown", actor=None, element=task_ref(task), error=error)
            job.state, job.last_error, job.updated_at = "error_thrown", _describe(exc), utcnow()
            _reflect_open_incidents(session, uow.instance)
            return JobOutcome(claimed.id, "error_thrown")
        incident = _open_incident(session, uow.instance, job, exc, exhausted=transient)
    return JobOutcome(claimed.id, "failed", incident_id=incident.id)


def _schedule_retry(
    factory: SessionFactory, claimed: ClaimedJob, exc: Exception, now: datetime, delay: float
) -> JobOutcome:
    with session_scope(factory) as session:
        result = session.execute(
            update(Job)
            .where(Job.id == claimed.id, Job.state == "running", Job.attempts == claimed.attempt)
            .values(
                state="pending",
                next_run_at=now + timedelta(seconds=delay),
                last_error=_describe(exc),
                updated_at=now,
            )
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return JobOutcome(claimed.id, "cancelled")
    return JobOutcome(claimed.id, "retry", retry_in=delay)


def _error_boundaries(task: Task) -> list[Task]:
    """The waiting error boundary events attached to `task`."""
    parent = task.parent
    if parent is None:
        return []
    return [
        sibling
        for sibling in parent.children
        if isinstance(sibling.task_spec, BoundaryEvent)
        and isinstance(sibling.task_spec.event_definition, ErrorEventDefinition)
        and sibling.state == TaskState.WAITING
    ]


def _throw_bpmn_error(task: Task, code: str, exc: Exception) -> bool:
    """Throw BPMN error `code` at `task`'s boundary events; False if none catches it."""
    payload = {"code": code, "message": str(exc)}
    for boundary in _error_boundaries(task):
        definition = boundary.task_spec.event_definition
        # Event definitions compare by exact class (the Spiff dialect subclasses the BPMN
        # one), so the thrown event is built from the catching definition's own class.
        thrown = type(definition)(definition.name, code=code)
        event_ = BpmnEvent(thrown, payload=payload, target=task.workflow)
        if boundary.task_spec.catches(boundary, event_):
            boundary.task_spec.catch(boundary, event_)
            boundary.task_spec._update(boundary)
            return True
    return False


def _open_incident(
    session: Session, instance: ProcessInstance, job: Job, exc: Exception, *, exhausted: bool
) -> Incident:
    now = utcnow()
    prefix = f"gave up after {job.attempts} attempts: " if exhausted else ""
    message = prefix + _describe(exc)
    incident = Incident(
        instance_id=instance.id,
        job_id=job.id,
        element_id=job.element_id,
        operator=job.operator,
        error_code=(bpmn_error_code(exc) or type(exc).__name__)[:100],
        message=message,
        attempts=job.attempts,
    )
    session.add(incident)
    job.state, job.last_error, job.updated_at = "failed", message, now
    instance.status, instance.error, instance.updated_at = "error", message, now
    session.add(
        InstanceEvent(
            instance_id=instance.id,
            at=now,
            type="incident_opened",
            element_id=job.element_id,
            changes={"error": [None, message]},
        )
    )
    session.flush()
    return incident


def _reflect_open_incidents(session: Session, instance: ProcessInstance) -> None:
    """An instance with an open incident elsewhere (a parallel branch) stays in error."""
    if instance.status in ("completed", "terminated"):
        return
    open_count = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.instance_id == instance.id, Incident.state == "open")
    )
    if open_count:
        instance.status = "error"


# --- incidents ----------------------------------------------------------------------------


def retry_incident(session: Session, *, incident_id: int, actor: Actor) -> Incident:
    """Resolve an open incident and run its cause again (flush only; the caller commits).

    A job incident makes the job pending again with a fresh retry budget (sent after
    commit); a script incident puts the failed task back to READY and runs the engine.
    A new failure opens a new incident.
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    instance = lock_instance(session, incident.instance_id)
    session.refresh(incident)
    if incident.state != "open":
        raise ConflictError(f"incident {incident_id} is {incident.state}", code="incident_resolved")
    now = utcnow()
    incident.state, incident.resolved_at = "resolved", now
    if incident.job_id is not None:
        _retry_job(session, instance, incident, actor, now)
    else:
        _retry_script(session, incident, actor)
    session.flush()
    return incident


def _retry_job(
    session: Session, instance: ProcessInstance, incident: Incident, actor: Actor, now: datetime
) -> None:
    job = session.get(Job, incident.job_id)
    if job is None or job.state != "failed":
        state = job.state if job else "gone"
        raise ConflictError(f"the incident's job is {state}", code="retry_unavailable")
    job.state, job.attempts, job.next_run_at, job.updated_at = "pending", 0, now, now
    session.info.setdefault(NEW_JOBS_KEY, []).append(job.id)
    instance.error, instance.updated_at = None, now
    instance.status = "running"
    session.add(
        InstanceEvent(
            instance_id=instance.id,
            at=now,
            type="incident_retried",
            element_id=incident.element_id,
            actor=actor.username,
        )
    )
    session.flush()
    _reflect_open_incidents(session, instance)


def _retry_script(session: Session, incident: Incident, actor: Actor) -> None:
    uow = open_unit_of_work(session, incident.instance_id)
    errored = uow.workflow.get_tasks(state=TaskState.ERROR)
    failed = [t for t in errored if t.task_spec.bpmn_id == incident.element_id] or errored
    if not failed:
        raise ConflictError("no failed task to retry", code="retry_unavailable")
    for task in failed:
        task._set_state(TaskState.READY)
    element = task_ref(failed[0])
    uow.instance.error = None
    error = run_engine(uow)
    persist(uow, action="incident_retried", actor=actor.username, element=element, error=error)
    _reflect_open_incidents(session, uow.instance)


# --- the sweeper --------------------------------------------------------------------------


def sweep_jobs(
    session: Session, *, now: datetime, grace_seconds: float, limit: int = 1000
) -> list[int]:
    """Ids of jobs to send again: pending jobs overdue by `grace_seconds` (message lost) and
    running jobs whose lease expired (worker killed). Both are stamped so the next sweep
    leaves them alone for another grace period."""
    overdue = now - timedelta(seconds=grace_seconds)
    lost = (
        select(Job.id)
        .where(
            or_(
                and_(Job.state == "pending", Job.next_run_at <= overdue),
                and_(Job.state == "running", Job.next_run_at < now),
            )
        )
        .order_by(Job.next_run_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        lost = lost.with_for_update(skip_locked=True)
    ids = list(session.scalars(lost))
    if not ids:
        return []
    session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.state == "running", Job.next_run_at < now)
        .values(state="pending", last_error="lease expired: the worker was lost")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.state == "pending")
        .values(next_run_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return ids
