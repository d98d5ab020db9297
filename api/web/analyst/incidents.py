"""Incidents: the open ones with operator, error and attempts, and retry from the page.

A retried row keeps polling its own fragment until the instance settles (done, waiting
for something, or failed again), so the analyst sees the instance continue.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.pagination import MAX_DB_INT
from api.web.analyst import views
from api.web.analyst.access import AnalystDep
from api.web.security import PageError
from api.web.templating import render
from engine import service
from engine.errors import NotFoundError, PotokError

router = APIRouter()

IncidentId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
STATES = ("open", "resolved", "all")


@router.get("/incidents")
def incidents_page(
    request: Request,
    session: SessionDep,
    _user: AnalystDep,
    state: Annotated[str, Query(max_length=10)] = "open",
    retried: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    retry_failed: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Incidents (open by default), newest first; a retried one stays listed, live."""
    state = state if state in STATES else "open"
    rows = views.incident_rows(session, state=state)
    if retried is not None and not any(r.incident.id == retried for r in rows):
        extra = views.incident_row(session, retried)
        rows = [extra, *rows] if extra is not None else rows
    return render(
        request,
        "analyst/incidents.html",
        rows=rows,
        state=state,
        states=STATES,
        retried=retried,
        retry_failed=retry_failed,
    )


def _row(session: SessionDep, incident_id: int) -> views.IncidentRow:
    row = views.incident_row(session, incident_id)
    if row is None:
        raise PageError(404, "not_found")
    return row


def _render_row(request: Request, session: SessionDep, row: views.IncidentRow) -> Response:
    return render(
        request,
        "analyst/_incident_row.html",
        row=row,
        retried=row.incident.state == "resolved",
        again=views.newer_incident(session, row),
    )


@router.get("/incidents/{incident_id}/row")
def incident_row(
    incident_id: IncidentId, request: Request, session: SessionDep, _user: AnalystDep
) -> Response:
    """One row of the incidents table (polled while its retried instance runs)."""
    return _render_row(request, session, _row(session, incident_id))


@router.post("/incidents/{incident_id}/retry")
def retry_incident(
    incident_id: IncidentId,
    request: Request,
    session: SessionDep,
    user: AnalystDep,
    next: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """Run the failed step again; htmx gets the row back, a plain form a redirect."""
    error: str | None = None
    try:
        service.retry_incident(session, incident_id=incident_id, actor=user.actor)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    except PotokError as exc:  # resolved meanwhile, or its job is no longer failed
        error = exc.code
        session.rollback()
    if request.headers.get("hx-request") == "true":
        session.flush()
        response = _render_row(request, session, _row(session, incident_id))
        if error:
            response.headers["HX-Trigger"] = f'{{"potok-flash": "{error}"}}'
        return response
    target = next if next and next.startswith("/analyst/") and "//" not in next else None
    outcome = f"retry_failed={error}" if error else f"retried={incident_id}"
    target = target or "/analyst/incidents"
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}{outcome}", status_code=303)
