"""Read-side helpers of the analyst pages: SELECTs over definitions, instances, incidents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from api.queries import InstanceFilters, instances_query
from engine import service
from engine.models import (
    HumanTask,
    Incident,
    InstanceEvent,
    ProcessDefinition,
    ProcessInstance,
)


def page_json(data: Any) -> str:
    """JSON for a <script type="application/json"> block (no `</` can end the block)."""
    return json.dumps(data, ensure_ascii=False, default=str).replace("</", "<\\/")


STATUSES = ("running", "waiting", "error", "completed", "terminated")
FINAL_STATUSES = frozenset({"completed", "terminated"})
PAGE_SIZE = 50


@dataclass(frozen=True)
class VersionRow:
    """One deployed version with its running instances."""

    id: int
    version: int
    name: str
    deployed_at: datetime
    deployed_by: str | None
    content_hash: str
    running: int


@dataclass
class ProcessRow:
    """A process key with all its versions, newest first."""

    key: str
    name: str
    versions: list[VersionRow] = field(default_factory=list)

    @property
    def latest(self) -> VersionRow:
        return self.versions[0]

    @property
    def running(self) -> int:
        return sum(v.running for v in self.versions)


def process_rows(session: Session, key: str | None = None) -> list[ProcessRow]:
    """Every process (or one key) with its versions and running counts, by key."""
    stmt = (
        select(ProcessDefinition)
        .options(defer(ProcessDefinition.bpmn_xml), defer(ProcessDefinition.resources))
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    )
    if key is not None:
        stmt = stmt.where(ProcessDefinition.key == key)
    running = service.running_counts(session)
    rows: dict[str, ProcessRow] = {}
    for d in session.scalars(stmt):
        row = rows.setdefault(d.key, ProcessRow(d.key, d.name))
        row.versions.append(
            VersionRow(
                d.id,
                d.version,
                d.name,
                d.deployed_at,
                d.deployed_by,
                d.content_hash,
                running.get(d.id, 0),
            )
        )
    return list(rows.values())


def version_numbers(session: Session, key: str) -> list[int]:
    """The deployed versions of `key`, oldest first."""
    stmt = (
        select(ProcessDefinition.version)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version)
    )
    return list(session.scalars(stmt))


def process_names(session: Session) -> list[tuple[str, str]]:
    """(key, name of the latest version) of every process, for filters."""
    return [(d.key, d.name or d.key) for d in service.list_definitions(session)]


# --- instances ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceQuery:
    """The filters of the instances page, from its query string."""

    key: str | None = None
    status: str | None = None
    business_key: str | None = None
    variable: str | None = None  # "name=value"
    page: int = 1

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> InstanceQuery:
        """Unknown or empty values are dropped."""

        def clean(name: str, limit: int = 255) -> str | None:
            value = str(params.get(name) or "").strip()[:limit]
            return value or None

        status = clean("status")
        page = clean("page", 6) or "1"
        return cls(
            key=clean("key"),
            status=status if status in STATUSES else None,
            business_key=clean("business_key"),
            variable=clean("variable", 1100),
            page=max(int(page), 1) if page.isdigit() else 1,
        )

    def variable_filter(self) -> dict[str, str]:
        """{name: value} of the variable filter, if it has the `name=value` form."""
        if not self.variable or "=" not in self.variable:
            return {}
        name, value = self.variable.split("=", 1)
        return {name.strip(): value.strip()} if name.strip() else {}

    def params(self, **override: Any) -> dict[str, str]:
        """The query string of this filter (with changes), without empty values."""
        values = {
            "key": self.key,
            "status": self.status,
            "business_key": self.business_key,
            "variable": self.variable,
            "page": None if self.page == 1 else str(self.page),
        }
        values.update(override)
        return {k: str(v) for k, v in values.items() if v}


def find_instances(session: Session, query: InstanceQuery) -> tuple[list[ProcessInstance], bool]:
    """One page of instances matching the filters, newest first, and whether more follow."""
    filters = InstanceFilters(
        key=query.key,
        status=query.status,
        business_key=query.business_key,
        variables=query.variable_filter(),
    )
    stmt = (
        instances_query(filters)
        .options(defer(ProcessInstance.state))
        .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
        .offset((query.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = list(session.scalars(stmt))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def open_incident_counts(session: Session, instance_ids: list[str]) -> dict[str, int]:
    """Open incidents per instance id."""
    if not instance_ids:
        return {}
    stmt = (
        select(Incident.instance_id, func.count())
        .where(Incident.instance_id.in_(instance_ids), Incident.state == "open")
        .group_by(Incident.instance_id)
    )
    return {instance_id: count for instance_id, count in session.execute(stmt).all()}


@dataclass
class InstanceDetail:
    """Everything the instance page shows besides the diagram."""

    instance: ProcessInstance
    name: str
    history: list[InstanceEvent]
    tasks: list[HumanTask]
    incidents: list[Incident]

    @property
    def finished(self) -> bool:
        return self.instance.status in FINAL_STATUSES

    @property
    def marker(self) -> str:
        """Changes whenever anything the page shows may have changed."""
        last_event = self.history[-1].id if self.history else 0
        return f"{self.instance.lock_version}.{last_event}.{len(self.incidents)}"


def instance_detail(session: Session, instance_id: str) -> InstanceDetail:
    """The instance with its history, open tasks and incidents (NotFoundError if unknown)."""
    instance = service.get_instance_or_raise(session, instance_id=instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id)
    history = service.list_history(session, instance_id=instance_id, limit=500)
    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
        .order_by(HumanTask.created_at)
    )
    incidents = session.scalars(
        select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id.desc())
    )
    return InstanceDetail(
        instance=instance,
        name=(definition.name if definition else "") or instance.key,
        history=history,
        tasks=list(tasks),
        incidents=list(incidents),
    )


def instance_marker(session: Session, instance_id: str) -> tuple[str, str]:
    """(marker, status) of an instance, cheaply: what the live page polls."""
    instance = service.get_instance_or_raise(session, instance_id=instance_id)
    last_event = session.scalar(
        select(func.max(InstanceEvent.id)).where(InstanceEvent.instance_id == instance_id)
    )
    incidents = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.instance_id == instance_id)
    )
    return f"{instance.lock_version}.{last_event or 0}.{incidents or 0}", instance.status


# --- incidents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow:
    """An incident with what the incidents page shows of its instance."""

    incident: Incident
    instance: ProcessInstance | None

    @property
    def instance_status(self) -> str:
        return self.instance.status if self.instance is not None else "gone"

    @property
    def settled(self) -> bool:
        """True once a retried incident's instance stopped moving (done, waiting or failed)."""
        return self.incident.state == "open" or self.instance_status != "running"


def incident_rows(session: Session, *, state: str = "open", limit: int = 200) -> list[IncidentRow]:
    """Incidents in `state` ("open", "resolved" or "all"), newest first, with their instances."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if state in ("open", "resolved"):
        stmt = stmt.where(Incident.state == state)
    incidents = list(session.scalars(stmt))
    ids = list({i.instance_id for i in incidents})
    instances = {
        i.id: i
        for i in session.scalars(
            select(ProcessInstance)
            .options(defer(ProcessInstance.state))
            .where(ProcessInstance.id.in_(ids))
        )
    }
    return [IncidentRow(i, instances.get(i.instance_id)) for i in incidents]


def incident_row(session: Session, incident_id: int) -> IncidentRow | None:
    """One incident with its instance, or None."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    return IncidentRow(incident, session.get(ProcessInstance, incident.instance_id))


def newer_incident(session: Session, row: IncidentRow) -> Incident | None:
    """An open incident of the same instance opened after `row` (the retry failed again)."""
    stmt = (
        select(Incident)
        .where(
            Incident.instance_id == row.incident.instance_id,
            Incident.id > row.incident.id,
            Incident.state == "open",
        )
        .order_by(Incident.id)
        .limit(1)
    )
    return session.scalars(stmt).first()
