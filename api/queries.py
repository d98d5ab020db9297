"""Read-side list queries behind the API's filters (select() statements, no writes).

The engine owns every state change; these only compose SELECTs over its projection tables
(process_instance, instance_variable, human_task, incident) for the list endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, String, and_, cast, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from engine.actor import Actor
from engine.models import HumanTask, Incident, InstanceVariable, ProcessDefinition, ProcessInstance

VARIABLE_PREFIX = "variable."
MAX_VARIABLE_FILTERS = 10


@dataclass(frozen=True)
class InstanceFilters:
    """Filters of GET /api/instances."""

    key: str | None = None
    status: str | None = None
    business_key: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


def variable_filters(query: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{name: value} from `variable.<name>=<value>` query parameters."""
    return {
        name[len(VARIABLE_PREFIX) :]: value
        for name, value in query
        if name.startswith(VARIABLE_PREFIX) and len(name) > len(VARIABLE_PREFIX)
    }


def _has_variable(name: str, value: str) -> ColumnElement[bool]:
    # instance_variable stores scalars as text (booleans lower-case), as the query gives them.
    return exists().where(
        InstanceVariable.instance_id == ProcessInstance.id,
        InstanceVariable.name == name,
        InstanceVariable.value == value,
    )


def instances_query(filters: InstanceFilters) -> Select[ProcessInstance]:
    """Instances matching every given filter."""
    stmt = select(ProcessInstance)
    if filters.key is not None:
        stmt = stmt.where(ProcessInstance.key == filters.key)
    if filters.status is not None:
        stmt = stmt.where(ProcessInstance.status == filters.status)
    if filters.business_key is not None:
        stmt = stmt.where(ProcessInstance.business_key == filters.business_key)
    if filters.created_after is not None:
        stmt = stmt.where(ProcessInstance.created_at >= filters.created_after)
    if filters.created_before is not None:
        stmt = stmt.where(ProcessInstance.created_at < filters.created_before)
    for name, value in filters.variables.items():
        stmt = stmt.where(_has_variable(name, value))
    return stmt


@dataclass(frozen=True)
class TaskFilters:
    """Filters of GET /api/tasks; "me" is resolved against the caller."""

    assignee: str | None = None
    candidate: str | None = None
    group: str | None = None
    instance_id: str | None = None
    process_key: str | None = None
    state: str = "open"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lists_group(group: str) -> ColumnElement[bool]:
    # candidate_groups is a JSON list; matching its text for the JSON-quoted name works the
    # same on SQLite and PostgreSQL, and a quoted name cannot match part of another name.
    pattern = f"%{_like_escape(json.dumps(group))}%"
    return cast(HumanTask.candidate_groups, String).like(pattern, escape="\\")


def _takeable_by(actor: Actor) -> ColumnElement[bool]:
    """Unassigned tasks whose candidate groups include one of the actor's (admins: all)."""
    if actor.is_admin:
        return HumanTask.assignee.is_(None)
    anyone = cast(HumanTask.candidate_groups, String) == "[]"
    groups = [_lists_group(g) for g in sorted(actor.groups)]
    return and_(HumanTask.assignee.is_(None), or_(anyone, *groups))


def tasks_query(filters: TaskFilters, actor: Actor) -> Select[HumanTask]:
    """Tasks matching every given filter."""
    stmt = select(HumanTask).where(HumanTask.state == filters.state)
    if filters.assignee is not None:
        who = actor.username if filters.assignee == "me" else filters.assignee
        stmt = stmt.where(HumanTask.assignee == who)
    if filters.candidate == "me":
        stmt = stmt.where(_takeable_by(actor))
    if filters.group is not None:
        stmt = stmt.where(_lists_group(filters.group))
    if filters.instance_id is not None:
        stmt = stmt.where(HumanTask.instance_id == filters.instance_id)
    if filters.process_key is not None:
        stmt = stmt.where(HumanTask.process_key == filters.process_key)
    return stmt


def incidents_query(*, instance_id: str | None, state: str | None) -> Select[Incident]:
    """Incidents of one instance and/or in one state."""
    stmt = select(Incident)
    if instance_id is not None:
        stmt = stmt.where(Incident.instance_id == instance_id)
    if state is not None:
        stmt = stmt.where(Incident.state == state)
    return stmt


def definition_versions_query(key: str) -> Select[ProcessDefinition]:
    """Every version of process `key`, oldest first."""
    return (
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version)
    )
