"""Human tasks: list with filters, read, claim, unclaim, complete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.pagination import PageDep, paginate_query
from api.queries import TaskFilters, tasks_query
from api.schemas.common import error_docs
from api.schemas.instances import InstanceRead
from api.schemas.tasks import TaskComplete, TaskCompleteRead, TaskPage, TaskRead
from engine import queues, service
from engine.actor import Actor
from engine.models import HumanTask, utcnow

router = APIRouter(tags=["tasks"])

Worker = Annotated[Principal, Depends(require_scope("tasks"))]
Viewer = Annotated[Principal, Depends(require_scope("tasks", "read"))]
NOT_FOUND = error_docs((404, "No such task"))
ACTION_ERRORS = error_docs(
    (404, "No such task"),
    (
        409,
        "`task_already_claimed`, `task_already_completed`, `cooldown_active`, `not_online`, "
        "`not_next_in_queue`",
    ),
)


def _read(
    task: HumanTask, actor: Actor | None = None, policy: queues.QueuePolicy | None = None
) -> TaskRead:
    """The task as `actor` may see it: a blind queue hides fields until they claim it."""
    item = service.task_dict(task)
    if actor is not None:
        item["data"] = queues.visible_data(task, policy, actor)
    return TaskRead.model_validate(item)


def _read_one(session: Session, task: HumanTask, actor: Actor) -> TaskRead:
    return _read(task, actor, queues.policy_for(session, task))


def _task_filters(
    assignee: Annotated[str | None, Query(description="`me` or a username")] = None,
    candidate: Annotated[
        Literal["me"] | None, Query(description="`me`: open tasks my groups may take")
    ] = None,
    group: Annotated[str | None, Query(description="A candidate group")] = None,
    instance_id: Annotated[str | None, Query()] = None,
    process_key: Annotated[str | None, Query()] = None,
    state: Annotated[Literal["open", "completed"], Query()] = "open",
) -> TaskFilters:
    return TaskFilters(
        assignee=assignee,
        candidate=candidate,
        group=group,
        instance_id=instance_id,
        process_key=process_key,
        state=state,
    )


@router.get("/tasks", response_model=TaskPage, summary="List tasks")
def list_tasks(
    session: SessionDep,
    caller: Viewer,
    page: PageDep,
    filters: Annotated[TaskFilters, Depends(_task_filters)],
) -> TaskPage:
    """Tasks matching every filter, oldest first (queue order)."""
    stmt = tasks_query(filters, caller.actor)
    if filters.candidate == "me":  # nothing from queues in cool-down or online-only offline
        hidden = queues.hidden_queues(session, actor=caller.actor, now=utcnow())
        if hidden:
            stmt = stmt.where(~queues.in_queues(h.name for h in hidden))
    rows, cursor = paginate_query(
        session, stmt, order_by=[HumanTask.created_at, HumanTask.id], page=page
    )
    policies = queues.policies_for(session, rows)
    items = [_read(row, caller.actor, policies.get(queues.queue_of(row) or "")) for row in rows]
    return TaskPage(items=items, next_cursor=cursor)


@router.get("/tasks/{task_id}", response_model=TaskRead, summary="Read a task", responses=NOT_FOUND)
def read_task(task_id: str, session: SessionDep, caller: Viewer) -> TaskRead:
    """One task with its form and pre-filled data (a blind queue's hidden fields absent)."""
    return _read_one(session, service.get_task_or_raise(session, task_id=task_id), caller.actor)


@router.post(
    "/tasks/{task_id}/claim",
    response_model=TaskRead,
    summary="Claim a task",
    responses=ACTION_ERRORS,
)
def claim_task(task_id: str, session: SessionDep, caller: Worker) -> TaskRead:
    """Assign the task to the caller; exactly one of concurrent claimants wins."""
    task = service.claim_task(session, task_id=task_id, actor=caller.actor)
    return _read_one(session, task, caller.actor)


@router.post(
    "/tasks/{task_id}/unclaim",
    response_model=TaskRead,
    summary="Unclaim a task",
    responses=ACTION_ERRORS,
)
def unclaim_task(task_id: str, session: SessionDep, caller: Worker) -> TaskRead:
    """Put the caller's task back into its queue."""
    task = service.unclaim_task(session, task_id=task_id, actor=caller.actor)
    return _read_one(session, task, caller.actor)


@router.post(
    "/tasks/{task_id}/complete",
    response_model=TaskCompleteRead,
    summary="Complete a task",
    responses=ACTION_ERRORS,
)
def complete_task(
    task_id: str, body: TaskComplete, session: SessionDep, caller: Worker
) -> TaskCompleteRead:
    """Validate the form data, complete the task and run the instance on (422 if invalid)."""
    task, instance = service.complete_task(
        session, task_id=task_id, data=body.data, actor=caller.actor
    )
    described = service.describe_instance(session, instance=instance)
    return TaskCompleteRead(task=_read(task), instance=InstanceRead.model_validate(described))
