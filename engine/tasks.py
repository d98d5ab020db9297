"""Human tasks: claim (atomic, one winner), unclaim, complete with validated form data."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import queues
from engine.actor import Actor
from engine.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    TaskAlreadyClaimed,
    TaskAlreadyCompleted,
)
from engine.forms import validate_task_submission
from engine.instances import lock_instance, open_unit_of_work, persist, run_engine
from engine.models import HumanTask, InstanceEvent, ProcessInstance, utcnow
from engine.runtime import task_ref


def get_task_or_raise(session: Session, *, task_id: str, refresh: bool = False) -> HumanTask:
    """The human task with this id, or NotFoundError (refresh: re-read after a lock)."""
    stmt = select(HumanTask).where(HumanTask.id == task_id)
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    task = session.scalars(stmt).first()
    if task is None:
        raise NotFoundError(f"task '{task_id}' not found")
    return task


def _ensure_open(task: HumanTask) -> None:
    if task.state == "completed":
        raise TaskAlreadyCompleted(f"task '{task.id}' is already completed")
    if task.state != "open":
        raise ConflictError(f"task '{task.id}' is {task.state}", code="task_not_open")


def ensure_may_act(task: HumanTask, actor: Actor) -> None:
    """Only members of the task's candidate groups (or its assignee, or admins) may act."""
    if actor.is_admin or task.assignee == actor.username:
        return
    if not actor.may_take(task.candidate_groups):
        raise PermissionDenied(f"'{actor.username}' may not work on task '{task.id}'")


def claim_task(session: Session, *, task_id: str, actor: Actor) -> HumanTask:
    """Assign an open task to `actor`; exactly one of many concurrent claimants wins."""
    task = get_task_or_raise(session, task_id=task_id)
    _ensure_open(task)
    ensure_may_act(task, actor)
    now = utcnow()
    queues.check_claim(session, task=task, actor=actor, now=now)
    # The conditional UPDATE is the arbiter: only a row still unassigned (or already ours)
    # matches, so of N concurrent claims exactly one changes a row.
    result = session.execute(
        update(HumanTask)
        .where(
            HumanTask.id == task_id,
            HumanTask.state == "open",
            or_(HumanTask.assignee.is_(None), HumanTask.assignee == actor.username),
        )
        .values(assignee=actor.username, claimed_at=now, last_activity_at=now)
        .execution_options(synchronize_session=False)
    )
    task = get_task_or_raise(session, task_id=task_id, refresh=True)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        _ensure_open(task)
        raise TaskAlreadyClaimed(f"task '{task_id}' is already claimed by {task.assignee}")
    queues.record_claim(session, task=task, actor=actor, now=now)
    session.add(
        InstanceEvent(
            instance_id=task.instance_id,
            at=now,
            type="task_claimed",
            element_id=task.element_id,
            element_name=task.name,
            actor=actor.username,
        )
    )
    return task


def unclaim_task(session: Session, *, task_id: str, actor: Actor) -> HumanTask:
    """Put a claimed task back into its queue (its assignee or an admin)."""
    task = get_task_or_raise(session, task_id=task_id)
    _ensure_open(task)
    if task.assignee not in (None, actor.username) and not actor.is_admin:
        raise PermissionDenied(f"task '{task_id}' is claimed by someone else")
    task.assignee, task.claimed_at = None, None
    session.add(
        InstanceEvent(
            instance_id=task.instance_id,
            type="task_unclaimed",
            element_id=task.element_id,
            element_name=task.name,
            actor=actor.username,
        )
    )
    session.flush()
    return task


def complete_task(
    session: Session, *, task_id: str, data: dict[str, Any], actor: Actor
) -> tuple[HumanTask, ProcessInstance]:
    """Validate `data` against the task's form, complete it and run the instance on."""
    task = get_task_or_raise(session, task_id=task_id)
    lock_instance(session, task.instance_id)  # lock first, then re-read the task
    task = get_task_or_raise(session, task_id=task_id, refresh=True)
    _ensure_open(task)
    ensure_may_act(task, actor)
    uow = open_unit_of_work(session, task.instance_id)
    if task.assignee not in (None, actor.username) and not actor.is_admin:
        raise PermissionDenied(f"task '{task_id}' is claimed by {task.assignee}")
    if task.assignee is None:  # an implicit claim obeys the queue's policy like a click
        queues.check_claim(session, task=task, actor=actor, now=utcnow())
        queues.record_claim(session, task=task, actor=actor, now=utcnow())
    spiff_task = uow.workflow.get_task_from_id(UUID(task.task_guid))
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise TaskAlreadyCompleted(f"task '{task_id}' is no longer waiting for input")
    accepted = validate_task_submission(task.form, data, spiff_task.data)
    element = task_ref(spiff_task)
    # `last_actor` lets the process record who did a step (e.g. "accepted by"), which the
    # form itself can never set (read-only fields keep their stored value).
    spiff_task.set_data(**accepted, last_actor=actor.username)
    spiff_task.run()
    error = run_engine(uow)
    now = utcnow()
    task.state, task.completed_at, task.completed_by = "completed", now, actor.username
    task.assignee = task.assignee or actor.username
    instance = persist(
        uow, action="task_completed", actor=actor.username, element=element, error=error
    )
    return task, instance


def task_dict(task: HumanTask) -> dict[str, Any]:
    """The API shape of a human task."""
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "process_key": task.process_key,
        "element_id": task.element_id,
        "name": task.name,
        "lane": task.lane,
        "candidate_groups": list(task.candidate_groups),
        "assignee": task.assignee,
        "state": task.state,
        "business_key": task.business_key,
        "created_at": task.created_at.isoformat(),
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "form": task.form,
        "data": task.data,
        "instructions": task.instructions,
    }
