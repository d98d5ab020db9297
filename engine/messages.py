"""BPMN messages: deliver to waiting instances found by index, or start new instances."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.actor import Actor
from engine.definitions import definitions_started_by
from engine.errors import ConflictError, InstanceFinished, NotFoundError
from engine.extensions import handle_message, initial_variables
from engine.idempotency import IN_PROGRESS, claim_key
from engine.instances import UnitOfWork, open_unit_of_work, persist, run_engine, start_instance
from engine.models import IdempotencyRecord, MessageSubscription
from engine.runtime import canonical_correlation, task_ref, to_jsonable

_FORWARD_DEPTH_KEY = "potok.message_forward_depth"
MAX_FORWARD_DEPTH = 10


def _catch(uow: UnitOfWork, task_guid: str, name: str, variables: dict[str, Any]) -> bool:
    """Hand the message to one waiting catch event of the workflow; False if it went away."""
    task = uow.workflow.event_manager.tasks.get(UUID(task_guid))
    if task is None:
        return False
    # We already matched the correlation through our own index, so the event is given to
    # exactly this task (what SpiffWorkflow's event manager does after its own matching).
    event = BpmnEvent(_waiting_definition(task, name), payload=dict(variables))
    task.task_spec.catch(task, event)
    task.task_spec._update(task)
    # The payload also lands in the instance's variables: the Spiff dialect would only keep
    # it under `messageVariable`, but integrators send variables to be read by later steps.
    # Set after _update, which re-inherits the parent's data (a repeated `text` was lost).
    task.set_data(**variables)
    return True


def _waiting_definition(task: Any, name: str) -> MessageEventDefinition:
    """A definition of message `name` that the waiting task's own definition equals.

    Definitions compare by exact class (the Spiff dialect subclasses the BPMN one); an
    event-based gateway only records an event one of its branches equals.
    """
    definition = task.task_spec.event_definition
    for each in getattr(definition, "event_definitions", [definition]):
        if isinstance(each, MessageEventDefinition) and each.name == name:
            return type(each)(name)  # type: ignore[no-any-return]
    return MessageEventDefinition(name)


def _subscribers(session: Session, name: str, key: str) -> list[tuple[str, str]]:
    stmt = (
        select(MessageSubscription.instance_id, MessageSubscription.task_guid)
        .where(MessageSubscription.message_name == name, MessageSubscription.correlation_key == key)
        .order_by(MessageSubscription.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _deliver_to(
    session: Session,
    instance_id: str,
    guid: str,
    name: str,
    variables: dict[str, Any],
    actor: Actor | None,
) -> bool:
    try:
        uow = open_unit_of_work(session, instance_id)
    except (InstanceFinished, NotFoundError):
        return False
    element = uow.workflow.event_manager.tasks.get(UUID(guid))
    if not _catch(uow, guid, name, variables):
        return False
    error = run_engine(uow)
    ref = task_ref(element) if element is not None else None
    persist(
        uow,
        action="message_received",
        actor=actor.username if actor else None,
        element=ref,
        error=error,
    )
    return True


def deliver_message(
    session: Session,
    *,
    name: str,
    correlation: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    actor: Actor | None = None,
    idempotency_key: str | None = None,
) -> dict[str, list[str]]:
    """Deliver message `name` to every instance waiting for it with these correlation values;
    if none waits, start each process that has a message start event for it.

    With `idempotency_key`, a repeat of the same delivery does nothing and returns the
    first delivery's result (the key is stored in the caller's transaction)."""
    if idempotency_key is None:
        return _deliver(session, name, correlation, variables, actor)
    digest = _delivery_hash(name, correlation, variables)
    claimed = _claim_delivery_key(session, name, idempotency_key, digest)
    if isinstance(claimed, IdempotencyRecord):
        return {k: list(v) for k, v in claimed.response.items()}
    result = _deliver(session, name, correlation, variables, actor)
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claimed)
        .values(status_code=200, response=result)
    )
    return result


def _delivery_hash(
    name: str, correlation: dict[str, Any] | None, variables: dict[str, Any] | None
) -> str:
    canonical = json.dumps(
        to_jsonable({"name": name, "correlation": correlation, "variables": variables}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _claim_delivery_key(
    session: Session, name: str, key: str, digest: str
) -> int | IdempotencyRecord:
    """Our new key row's id, or the record of an earlier delivery with this key."""
    scope = f"message:{name}"[:255]
    existing = claim_key(session, scope=scope, key=key, request_hash=digest)
    if isinstance(existing, int):
        return existing
    if existing is None or existing.status_code == IN_PROGRESS:
        raise ConflictError(
            "a delivery with this idempotency key is in progress", code="request_in_progress"
        )
    if existing.request_hash != digest:
        raise ConflictError(
            "this idempotency key was used for a different message",
            code="idempotency_key_reused",
        )
    return existing


def forward_thrown(
    session: Session, thrown: list[BpmnEvent], actor: Actor | None
) -> list[tuple[str, dict[str, list[str]]]]:
    """Deliver the messages a unit of work threw (send tasks, message end events) to the
    instances waiting for them, in the same transaction; unmatched ones are dropped, as BPMN
    says, after being recorded in the sender's history by the caller."""
    depth = session.info.get(_FORWARD_DEPTH_KEY, 0)
    if depth >= MAX_FORWARD_DEPTH:
        raise ConflictError(
            f"messages between processes nested deeper than {MAX_FORWARD_DEPTH} levels",
            code="message_loop",
        )
    session.info[_FORWARD_DEPTH_KEY] = depth + 1
    results: list[tuple[str, dict[str, list[str]]]] = []
    try:
        for name, event in thrown_messages(thrown):
            correlation = {
                k: v for keyset in event.correlations.values() for k, v in keyset.items()
            }
            payload = event.payload if isinstance(event.payload, dict) else {}
            try:
                results.append((name, _deliver(session, name, correlation, payload, actor)))
            except NotFoundError:
                results.append((name, {"delivered_to": [], "started": []}))
    finally:
        session.info[_FORWARD_DEPTH_KEY] = depth
    return results


def thrown_messages(thrown: list[BpmnEvent]) -> list[tuple[str, BpmnEvent]]:
    """The named BPMN messages among a workflow's outgoing events (SpiffWorkflow also lists
    e.g. a terminate end event's internal event there)."""
    found = []
    for event in thrown:
        name = getattr(event.event_definition, "name", None)
        if isinstance(event.event_definition, MessageEventDefinition) and name:
            found.append((name, event))
    return found


def _deliver(
    session: Session,
    name: str,
    correlation: dict[str, Any] | None,
    variables: dict[str, Any] | None,
    actor: Actor | None,
) -> dict[str, list[str]]:
    key = canonical_correlation(correlation or {})
    payload = {**(correlation or {}), **(variables or {})}
    delivered: list[str] = []
    for instance_id, guid in _subscribers(session, name, key):
        if instance_id not in delivered and _deliver_to(
            session, instance_id, guid, name, payload, actor
        ):
            delivered.append(instance_id)
    started: list[str] = []
    if not delivered:
        handled = handle_message(session, name, payload, actor)
        if handled is not None:
            return {"delivered_to": handled, "started": []}
        started = _start_by_message(session, name, payload, actor)
    if not delivered and not started:
        raise NotFoundError(
            f"no instance waits for message '{name}' with these correlation values "
            "and no process starts on it",
            code="no_matching_subscription",
        )
    return {"delivered_to": delivered, "started": started}


def _start_by_message(
    session: Session, name: str, payload: dict[str, Any], actor: Actor | None
) -> list[str]:
    started: list[str] = []
    for definition in definitions_started_by(session, name):
        # Admin data a process is started with rides in the message, as its starter's would.
        own = initial_variables(session, definition.key, payload)

        def catch_start(uow: UnitOfWork, own: dict[str, Any] = own) -> None:
            for guid, ref in take_waiting_messages(uow).items():
                if ref == name:
                    _catch(uow, guid, name, own)

        instance = start_instance(
            session,
            key=definition.key,
            version=definition.version,
            actor=actor,
            before_run=catch_start,
            initial=False,
        )
        started.append(instance.id)
    return started


def take_waiting_messages(uow: UnitOfWork) -> dict[str, str]:
    """{task guid: message name} of the workflow's waiting message catches."""
    waiting: dict[str, str] = {}
    for guid, task in uow.workflow.event_manager.tasks.items():
        definition = task.task_spec.event_definition
        if isinstance(definition, MessageEventDefinition):
            waiting[str(guid)] = definition.name
    return waiting
