"""Incidents: list, and retry the failed job."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.pagination import MAX_DB_INT, PageDep, paginate_query
from api.queries import incidents_query
from api.schemas.common import error_docs
from api.schemas.incidents import IncidentPage, IncidentRead
from engine import jobs
from engine.models import Incident

router = APIRouter(tags=["incidents"])

Viewer = Annotated[Principal, Depends(require_scope("incidents", "read"))]
Operator = Annotated[Principal, Depends(require_scope("incidents"))]


@router.get("/incidents", response_model=IncidentPage, summary="List incidents")
def list_incidents(
    session: SessionDep,
    _caller: Viewer,
    page: PageDep,
    instance_id: Annotated[str | None, Query()] = None,
    state: Annotated[Literal["open", "resolved"] | None, Query()] = None,
) -> IncidentPage:
    """Incidents, oldest first, of one instance and/or in one state."""
    rows, cursor = paginate_query(
        session,
        incidents_query(instance_id=instance_id, state=state),
        order_by=[Incident.id],
        page=page,
    )
    return IncidentPage(items=[IncidentRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/incidents/{incident_id}/retry",
    response_model=IncidentRead,
    summary="Retry an incident",
    responses=error_docs(
        (404, "No such incident"),
        (409, "`incident_resolved`, or `retry_unavailable` (its job is no longer failed)"),
    ),
)
def retry_incident(
    incident_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)], session: SessionDep, caller: Operator
) -> IncidentRead:
    """Resolve the incident and run its cause again (a new failure opens a new incident)."""
    incident = jobs.retry_incident(session, incident_id=incident_id, actor=caller.actor)
    return IncidentRead.model_validate(incident)
