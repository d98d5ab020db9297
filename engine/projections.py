"""Write the difference between two snapshots into the projection tables.

Only what changed is written: a unit of work that completes one user task touches a handful
of rows however long the instance has lived. New rows are queued on a RowBatch (the caller
writes them in one go); deletes and updates run at once, so they always precede the inserts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from engine.models import (
    HumanTask,
    InstanceEvent,
    InstanceVariable,
    Job,
    MessageSubscription,
    ProcessInstance,
    Timer,
    new_id,
    utcnow,
)
from engine.rawsql import RowBatch
from engine.runtime import Snapshot, TaskRef, to_jsonable

NEW_JOBS_KEY = "potok.new_jobs"  # session.info key: job ids to send to the broker after commit
_INDEXED_TYPES = (str, int, float, bool)


# Set by the engine itself (the actor column of the event already says who acted).
ENGINE_VARIABLES = frozenset({"last_actor"})


def variable_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{name: [old, new]} for every top-level variable that changed (JSON-ready)."""
    changes: dict[str, list[Any]] = {}
    for name in (before.keys() | after.keys()) - ENGINE_VARIABLES:
        old, new = before.get(name), after.get(name)
        if name not in after or name not in before or old != new:
            changes[name] = [to_jsonable(old), to_jsonable(new)]
    return changes


def sync_variables(
    session: Session,
    batch: RowBatch,
    instance: ProcessInstance,
    changes: dict[str, list[Any]],
    after: dict[str, Any],
    *,
    is_new: bool,
) -> None:
    """Keep instance_variable (scalar top-level variables, for search) in step."""
    if not changes:
        return
    names = list(changes)
    if not is_new:
        session.execute(
            delete(InstanceVariable).where(
                InstanceVariable.instance_id == instance.id, InstanceVariable.name.in_(names)
            )
        )
    rows = []
    for name in names:
        value = after.get(name)
        if name in after and isinstance(value, _INDEXED_TYPES):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            rows.append({"instance_id": instance.id, "name": name, "value": text[:1000]})
    batch.add(InstanceVariable, rows)


def _form_for(spec: Any, forms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    properties = (getattr(spec, "extensions", None) or {}).get("properties", {})
    schema = forms.get(properties.get("formJsonSchemaFilename", ""), {})
    ui_schema = forms.get(properties.get("formUiSchemaFilename", ""), {})
    return {"schema": schema, "ui_schema": ui_schema}


def _candidate_groups(spec: Any) -> list[str]:
    properties = (getattr(spec, "extensions", None) or {}).get("properties", {})
    listed = [g.strip() for g in str(properties.get("candidateGroups", "")).split(",") if g.strip()]
    if listed:
        return listed
    return [spec.lane] if getattr(spec, "lane", None) else []


def _prefill(form: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    fields = (form.get("schema") or {}).get("properties")
    source = {k: v for k, v in data.items() if k in fields} if fields else data
    return to_jsonable(source)  # type: ignore[no-any-return]


def _new_human_task(
    instance: ProcessInstance, workflow: BpmnWorkflow, ref: TaskRef, forms: dict[str, Any]
) -> dict[str, Any]:
    task = workflow.get_task_from_id(UUID(ref.guid))
    spec = task.task_spec
    form = _form_for(spec, forms)
    extensions = getattr(spec, "extensions", None) or {}
    properties = extensions.get("properties", {})
    assignee = task.data.get(properties.get("assigneeVariable", "")) or None
    return {
        "assignee": str(assignee) if assignee else None,
        "id": new_id(),
        "instance_id": instance.id,
        "task_guid": ref.guid,
        "process_key": instance.key,
        "element_id": ref.element_id,
        "name": ref.name,
        "lane": getattr(spec, "lane", None),
        "candidate_groups": _candidate_groups(spec),
        "form": form,
        "data": _prefill(form, task.data),
        "instructions": extensions.get("instructionsForEndUser"),
        "business_key": instance.business_key,
        "created_at": utcnow(),
    }


def sync_human_tasks(
    session: Session,
    batch: RowBatch,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    before: Snapshot,
    after: Snapshot,
    forms: dict[str, Any],
) -> None:
    """Open a row for each new ready user task; cancel rows whose task went away."""
    rows = [
        _new_human_task(instance, workflow, ref, forms)
        for guid, ref in after.user_tasks.items()
        if guid not in before.user_tasks
    ]
    batch.add(HumanTask, rows)
    gone = [guid for guid in before.user_tasks if guid not in after.user_tasks]
    if gone:
        session.execute(
            update(HumanTask)
            .where(HumanTask.task_guid.in_(gone), HumanTask.state == "open")
            .values(state="cancelled", completed_at=utcnow())
        )


def sync_timers(
    session: Session, batch: RowBatch, instance: ProcessInstance, before: Snapshot, after: Snapshot
) -> None:
    """One `timer` row per waiting timer; a cycle's next due time rewrites its row."""
    stale = [g for g, t in before.timers.items() if after.timers.get(g) != t]
    if stale:
        session.execute(
            delete(Timer).where(Timer.instance_id == instance.id, Timer.task_guid.in_(stale))
        )
    rows = [
        {
            "instance_id": instance.id,
            "task_guid": guid,
            "element_id": ref.element_id,
            "due_at": ref.due_at,
            "state": "waiting",
        }
        for guid, ref in after.timers.items()
        if before.timers.get(guid) != ref
    ]
    batch.add(Timer, rows)


def sync_subscriptions(
    session: Session, batch: RowBatch, instance: ProcessInstance, before: Snapshot, after: Snapshot
) -> None:
    """One `message_subscription` row per waiting message catch, keyed for indexed lookup."""
    # Keys are task guids, or "guid:message" for the messages of an event-based gateway.
    stale = [m.guid for k, m in before.messages.items() if after.messages.get(k) != m]
    if stale:
        session.execute(
            delete(MessageSubscription).where(
                MessageSubscription.instance_id == instance.id,
                MessageSubscription.task_guid.in_(stale),
            )
        )
    rows = [
        {
            "instance_id": instance.id,
            "task_guid": ref.guid,
            "element_id": ref.element_id,
            "message_name": ref.name,
            "correlation_key": ref.correlation_key,
            "created_at": utcnow(),
        }
        for key, ref in after.messages.items()
        if before.messages.get(key) != ref or ref.guid in stale
    ]
    batch.add(MessageSubscription, rows)


def sync_jobs(
    session: Session, instance: ProcessInstance, before: Snapshot, after: Snapshot, defaults: Any
) -> list[Job]:
    """A `job` row for each service task newly left STARTED; cancel jobs whose task went away."""
    created: list[Job] = []
    for guid, ref in after.jobs.items():
        if guid in before.jobs:
            continue
        operator = defaults(ref.operator)
        job = Job(
            instance_id=instance.id,
            task_guid=guid,
            element_id=ref.element_id,
            operator=ref.operator,
            params=to_jsonable(ref.params),
            max_attempts=ref.max_attempts or operator.max_attempts,
            backoff_base=ref.backoff_base or operator.backoff_base,
            idempotency_key=f"{instance.id}:{guid}",
        )
        session.add(job)
        created.append(job)
    gone = [guid for guid in before.jobs if guid not in after.jobs]
    if gone:
        session.execute(
            update(Job)
            .where(Job.instance_id == instance.id, Job.task_guid.in_(gone), Job.state == "pending")
            .values(state="cancelled", updated_at=utcnow())
        )
    return created


def _event(
    instance_id: str,
    at: datetime,
    kind: str,
    actor: str | None,
    element: TaskRef | None,
    changes: dict[str, list[Any]],
) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "at": at,
        "type": kind,
        "element_id": element.element_id if element else None,
        "element_name": element.name if element else None,
        "actor": actor,
        "changes": changes,
    }


def record_history(
    batch: RowBatch,
    instance: ProcessInstance,
    before: Snapshot,
    after: Snapshot,
    *,
    action: str,
    actor: str | None,
    element: TaskRef | None,
    changes: dict[str, list[Any]],
    at: datetime,
) -> None:
    """The action's own event (with the variable changes) plus one per element finished."""
    rows = [_event(instance.id, at, action, actor, element, changes)]
    for guid, ref in after.finished.items():
        if guid in before.finished or (element is not None and guid == element.guid):
            continue
        rows.append(_event(instance.id, at, "element_completed", actor, ref, {}))
    batch.add(InstanceEvent, rows)
