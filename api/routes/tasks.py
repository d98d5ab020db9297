"""Human tasks: list with filters, read, claim, unclaim, complete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.pagination import PageDep, paginate_query
from api.queries import TaskFilters, tasks_query
from api.schemas.common import error_docs
from api.schemas.instances import InstanceRead
from api.schemas.tasks import TaskComplete, TaskCompleteRead, TaskPage, TaskRead
from engine import service
from engine.models import HumanTask

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


def _read(task: HumanTask) -> TaskRead:
    return TaskRead.model_validate(service.task_dict(task))


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
    rows, cursor = paginate_query(
        session,
        tasks_query(filters, caller.actor),
        order_by=[HumanTask.created_at, HumanTask.id],
        page=page,
    )
    return TaskPage(items=[_read(row) for row in rows], next_cursor=cursor)


@router.get("/tasks/{task_id}", response_model=TaskRead, summary="Read a task", responses=NOT_FOUND)
def read_task(task_id: str, session: SessionDep, _caller: Viewer) -> TaskRead:
    """One task with its form and pre-filled data."""
    return _read(service.get_task_or_raise(session, task_id=task_id))


@router.post(
    "/tasks/{task_id}/claim",
    response_model=TaskRead,
    summary="Claim a task",
    responses=ACTION_ERRORS,
)
def claim_task(task_id: str, session: SessionDep, caller: Worker) -> TaskRead:
    """Assign the task to the caller; exactly one of concurrent claimants wins."""
    return _read(service.claim_task(session, task_id=task_id, actor=caller.actor))


@router.post(
    "/tasks/{task_id}/unclaim",
    response_model=TaskRead,
    summary="Unclaim a task",
    responses=ACTION_ERRORS,
)
def unclaim_task(task_id: str, session: SessionDep, caller: Worker) -> TaskRead:
    """Put the caller's task back into its queue."""
    return _read(service.unclaim_task(session, task_id=task_id, actor=caller.actor))


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
