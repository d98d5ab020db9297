"""Process instances: start, the unit of work that runs them, terminate, read models.

A unit of work: lock the instance row, restore the workflow from its stored state and the
cached spec, apply one action (complete a task, catch a message, fire a timer, finish a
job), run engine steps until the workflow waits, then write state, projections and history
in the caller's transaction. The caller commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine import projections
from engine.actor import Actor
from engine.definitions import (
    LATEST_DEFINITIONS,
    DefinitionRef,
    definition_ref,
    definition_ref_by_id,
    parsed_ref,
    still_latest,
)
from engine.errors import InstanceFinished, NotFoundError, PreconditionFailed
from engine.extensions import initial_variables
from engine.models import (
    HumanTask,
    Incident,
    InstanceEvent,
    Job,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    Timer,
    new_id,
    utcnow,
)
from engine.operators import OPERATORS
from engine.parsing import ParsedProcess
from engine.rawsql import Precondition, RowBatch
from engine.runtime import Snapshot, TaskRef, prune_workflow, take_snapshot, to_jsonable
from engine.scripting import make_script_engine
from engine.spiff_ext import SERIALIZER_VERSION, dump_state, load_state

FINISHED_STATUSES = ("completed", "terminated")


@dataclass
class UnitOfWork:
    """An instance restored for one action, with the snapshot taken before the action."""

    session: Session
    instance: ProcessInstance
    process: ParsedProcess
    workflow: BpmnWorkflow
    before: Snapshot


def lock_instance(session: Session, instance_id: str) -> ProcessInstance:
    # FOR UPDATE (PostgreSQL) makes a second writer wait and then read the winner's state;
    # SQLite's BEGIN IMMEDIATE already serializes writers. populate_existing refreshes an
    # instance this session loaded before the lock was held.
    stmt = (
        select(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    instance = session.scalars(stmt).first()
    if instance is None:
        raise NotFoundError(f"process instance '{instance_id}' not found")
    return instance


def open_unit_of_work(session: Session, instance_id: str) -> UnitOfWork:
    """Lock and restore a running instance for one action."""
    instance = lock_instance(session, instance_id)
    if instance.status in FINISHED_STATUSES:
        raise InstanceFinished(f"process instance '{instance_id}' is {instance.status}")
    process = parsed_ref(session, definition_ref_by_id(session, instance.definition_id))
    workflow = load_state(instance.state, process.dialect, process.spec, process.subprocess_specs)
    workflow.script_engine = make_script_engine()
    return UnitOfWork(session, instance, process, workflow, take_snapshot(workflow))


def run_engine(uow: UnitOfWork) -> WorkflowException | None:
    """Run engine steps until the workflow waits; a script/handler failure is returned."""
    try:
        uow.workflow.do_engine_steps()
    except WorkflowException as exc:
        return exc
    return None


def _status(workflow: BpmnWorkflow, after: Snapshot, failed: bool) -> str:
    if failed or after.failed:
        return "error"
    if workflow.completed:
        return "completed"
    return "running" if after.jobs else "waiting"


def _record_failure(uow: UnitOfWork, error: WorkflowException) -> None:
    task = getattr(error, "task", None)
    element_id = getattr(getattr(task, "task_spec", None), "bpmn_id", None) or "unknown"
    uow.session.execute(
        insert(Incident).values(
            instance_id=uow.instance.id,
            element_id=element_id,
            operator=None,
            error_code="script_error",
            message=str(error),
            attempts=1,
            state="open",
            created_at=utcnow(),
        )
    )


def persist(
    uow: UnitOfWork,
    *,
    action: str,
    actor: str | None,
    element: TaskRef | None = None,
    error: WorkflowException | None = None,
    precondition: Precondition | None = None,
) -> ProcessInstance:
    """Write state, projections and history of the unit of work (flush only).

    The instance row goes first (INSERT, or UPDATE … WHERE lock_version = read value: the
    compare-and-swap); the new projection and history rows follow in one RowBatch.
    """
    instance, workflow, session = uow.instance, uow.workflow, uow.session
    is_new = instance not in session
    after = take_snapshot(workflow)
    changes = projections.variable_changes(uow.before.variables, after.variables)
    now = utcnow()
    thrown = workflow.get_events()  # messages for other instances; cleared from the state
    prune_workflow(workflow)
    _write_instance(instance, workflow, uow.process.dialect, after, error is not None, now)
    if error is not None:
        instance.error = str(error)
    batch = RowBatch()
    if is_new:
        batch.add_object(instance)
    else:
        session.flush()
    projections.record_history(
        batch,
        instance,
        uow.before,
        after,
        action=action,
        actor=actor,
        element=element,
        changes=changes,
        at=now,
    )
    projections.sync_variables(session, batch, instance, changes, after.variables, is_new=is_new)
    projections.sync_human_tasks(
        session, batch, instance, workflow, uow.before, after, uow.process.forms
    )
    projections.sync_timers(session, batch, instance, uow.before, after)
    projections.sync_subscriptions(session, batch, instance, uow.before, after)
    batch.write(session, precondition)  # PreconditionFailed: nothing was written
    if error is not None:
        _record_failure(uow, error)
    new_jobs = projections.sync_jobs(session, instance, uow.before, after, OPERATORS.get)
    if new_jobs:
        session.flush()
        session.info.setdefault(projections.NEW_JOBS_KEY, []).extend(j.id for j in new_jobs)
    if thrown:
        _forward_thrown(session, instance, thrown, actor, now)
    return instance


def _forward_thrown(
    session: Session, instance: ProcessInstance, thrown: list[Any], actor: str | None, now: Any
) -> None:
    # Imported here: engine.messages builds on this module (start_instance, persist).
    from engine.messages import forward_thrown

    for name, result in forward_thrown(session, thrown, Actor(actor) if actor else None):
        # History: which message went out and where it landed, as [before, after] pairs like
        # every `changes` entry; an unmatched message is dropped, as BPMN says.
        session.execute(
            insert(InstanceEvent).values(
                instance_id=instance.id,
                at=now,
                type="message_sent",
                actor=actor,
                element_name=name,
                changes={key: [[], ids] for key, ids in result.items()},
            )
        )


def _write_instance(
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    dialect: str,
    after: Snapshot,
    failed: bool,
    now: Any,
) -> None:
    instance.state = dump_state(workflow, dialect)
    instance.serializer_version = SERIALIZER_VERSION
    instance.variables = to_jsonable(after.variables)
    instance.active = [
        {"element_id": r.element_id, "name": r.name, "type": r.type, "since": r.since}
        for r in after.active
    ]
    instance.status = _status(workflow, after, failed)
    instance.updated_at = now
    if instance.status == "completed":
        instance.ended_at = now


@dataclass(frozen=True)
class _StartRequest:
    key: str
    variables: dict[str, Any] | None
    business_key: str | None
    actor: Actor | None
    before_run: Callable[[UnitOfWork], None] | None
    initial: bool


def start_instance(
    session: Session,
    *,
    key: str,
    variables: dict[str, Any] | None = None,
    business_key: str | None = None,
    version: int | None = None,
    actor: Actor | None = None,
    before_run: Callable[[UnitOfWork], None] | None = None,
    initial: bool = True,
) -> ProcessInstance:
    """Create an instance of the latest (or given) version of `key` and run it until it waits.

    The variables are completed by the key's initial-variables providers
    (`engine.extensions`) unless `initial` is False (a message start applies them to the
    message's payload instead). The latest version comes from LATEST_DEFINITIONS when known;
    the write then checks it is still the latest, and a start that lost that race to a
    deploy is run again on the new version (nothing of the first run was written).
    """
    request = _StartRequest(key, variables, business_key, actor, before_run, initial)
    if version is None:
        remembered = LATEST_DEFINITIONS.get(session, key)
        if remembered is not None:
            try:
                return _start(session, request, remembered, still_latest(remembered))
            except PreconditionFailed:
                LATEST_DEFINITIONS.forget(session, key)
    definition = definition_ref(session, key=key, version=version)
    if version is None:
        LATEST_DEFINITIONS.remember(session, definition)
    return _start(session, request, definition, None)


def _start(
    session: Session,
    request: _StartRequest,
    definition: DefinitionRef,
    precondition: Precondition | None,
) -> ProcessInstance:
    variables = request.variables
    if request.initial:
        variables = initial_variables(session, definition.key, variables or {})
    process = parsed_ref(session, definition)
    workflow = BpmnWorkflow(
        process.spec, process.subprocess_specs, script_engine=make_script_engine()
    )
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(**(variables or {}))
    instance = ProcessInstance(
        id=new_id(),
        definition_id=definition.id,
        key=definition.key,
        version=definition.version,
        business_key=request.business_key,
        started_by=request.actor.username if request.actor else None,
    )
    uow = UnitOfWork(session, instance, process, workflow, Snapshot())
    error = run_engine(uow)
    if request.before_run is not None and error is None:
        request.before_run(uow)
        error = run_engine(uow)
    return persist(
        uow,
        action="instance_started",
        actor=instance.started_by,
        error=error,
        precondition=precondition,
    )


def get_instance_or_raise(session: Session, *, instance_id: str) -> ProcessInstance:
    """The instance with this id, or NotFoundError."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFoundError(f"process instance '{instance_id}' not found")
    return instance


def _drop_waits(session: Session, instance_id: str) -> None:
    now = utcnow()
    session.execute(delete(Timer).where(Timer.instance_id == instance_id))
    session.execute(
        delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id)
    )
    session.execute(
        update(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
        .values(state="cancelled", completed_at=now)
    )
    session.execute(
        update(Job)
        .where(Job.instance_id == instance_id, Job.state.in_(("pending", "running")))
        .values(state="cancelled", updated_at=now)
    )


def terminate_instance(session: Session, *, instance_id: str, actor: Actor) -> ProcessInstance:
    """Cancel a running instance: every wait is dropped and nothing of it runs again."""
    uow = open_unit_of_work(session, instance_id)
    uow.workflow.cancel()
    _drop_waits(session, instance_id)
    instance = uow.instance
    now = utcnow()
    session.add(
        InstanceEvent(
            instance_id=instance.id, at=now, type="instance_terminated", actor=actor.username
        )
    )
    instance.state = dump_state(uow.workflow, uow.process.dialect)
    instance.status, instance.ended_at, instance.updated_at, instance.active = (
        "terminated",
        now,
        now,
        [],
    )
    session.flush()
    return instance


def list_history(
    session: Session, *, instance_id: str, limit: int = 500, after_id: int | None = None
) -> list[InstanceEvent]:
    """The instance's history, oldest first."""
    get_instance_or_raise(session, instance_id=instance_id)
    stmt = select(InstanceEvent).where(InstanceEvent.instance_id == instance_id)
    if after_id is not None:
        stmt = stmt.where(InstanceEvent.id > after_id)
    return list(session.scalars(stmt.order_by(InstanceEvent.id).limit(limit)))


def open_incidents(session: Session, instance_id: str) -> list[Incident]:
    stmt = select(Incident).where(Incident.instance_id == instance_id, Incident.state == "open")
    return list(session.scalars(stmt.order_by(Incident.id)))


def incident_dict(incident: Incident) -> dict[str, Any]:
    """The API shape of an incident."""
    return {
        "id": incident.id,
        "instance_id": incident.instance_id,
        "element_id": incident.element_id,
        "operator": incident.operator,
        "error_code": incident.error_code,
        "message": incident.message,
        "attempts": incident.attempts,
        "state": incident.state,
        "created_at": incident.created_at.isoformat(),
    }


def describe_instance(session: Session, *, instance: ProcessInstance) -> dict[str, Any]:
    """The API shape of an instance (API.md: GET /api/instances/{id})."""
    return _described(instance, open_incidents(session, instance.id))


def describe_instances(
    session: Session, *, instances: list[ProcessInstance]
) -> list[dict[str, Any]]:
    """The API shape of many instances, with one query for all their open incidents."""
    ids = [instance.id for instance in instances]
    by_instance: dict[str, list[Incident]] = {instance_id: [] for instance_id in ids}
    if ids:
        stmt = select(Incident).where(Incident.instance_id.in_(ids), Incident.state == "open")
        for incident in session.scalars(stmt.order_by(Incident.id)):
            by_instance[incident.instance_id].append(incident)
    return [_described(instance, by_instance[instance.id]) for instance in instances]


def _described(instance: ProcessInstance, incidents: list[Incident]) -> dict[str, Any]:
    return {
        "id": instance.id,
        "key": instance.key,
        "version": instance.version,
        "business_key": instance.business_key,
        "status": instance.status,
        "variables": instance.variables,
        "active": [_active_item(item) for item in instance.active],
        "incidents": [incident_dict(i) for i in incidents],
        "created_at": instance.created_at.isoformat(),
        "ended_at": instance.ended_at.isoformat() if instance.ended_at else None,
    }


def _active_item(item: dict[str, Any]) -> dict[str, Any]:
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(item["since"], UTC).isoformat() if item.get("since") else None
    return {**item, "since": since}


def instance_diagram(session: Session, *, instance_id: str) -> dict[str, Any]:
    """The BPMN XML with completed and active element ids, for the viewer."""
    instance = get_instance_or_raise(session, instance_id=instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id)
    assert definition is not None
    stmt = (
        select(InstanceEvent.element_id)
        .where(InstanceEvent.instance_id == instance_id, InstanceEvent.element_id.is_not(None))
        .distinct()
    )
    completed = sorted(e for e in session.scalars(stmt) if e)
    active = sorted({item["element_id"] for item in instance.active if item.get("element_id")})
    return {"xml": definition.bpmn_xml, "completed": completed, "active": active}
