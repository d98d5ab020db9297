"""Instances: the filtered list, and one instance with its diagram, data, history and tasks.

The instance page stays live by polling `/marker` (one cheap SELECT); when the marker
moves, the page reloads its details fragment and the diagram's markers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.web.analyst import views
from api.web.analyst.access import AnalystApiDep, AnalystDep
from api.web.security import PageError
from api.web.templating import render
from engine import service
from engine.errors import NotFoundError

router = APIRouter()


@router.get("/instances")
def instances_page(request: Request, session: SessionDep, _user: AnalystDep) -> Response:
    """Instances, newest first, filtered by process, status, business key and a variable."""
    query = views.InstanceQuery.from_params(dict(request.query_params))
    rows, more = views.find_instances(session, query)
    template = "analyst/_instance_rows.html" if _is_htmx(request) else "analyst/instances.html"
    return render(
        request,
        template,
        query=query,
        rows=rows,
        more=more,
        incidents=views.open_incident_counts(session, [r.id for r in rows]),
        processes=views.process_names(session),
        statuses=views.STATUSES,
    )


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _detail(session: SessionDep, instance_id: str) -> views.InstanceDetail:
    try:
        return views.instance_detail(session, instance_id)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc


@router.get("/instances/{instance_id}")
def instance_page(
    instance_id: str, request: Request, session: SessionDep, _user: AnalystDep
) -> Response:
    """The diagram with done and active elements, variables, history, open tasks, incidents."""
    detail = _detail(session, instance_id)
    return render(request, "analyst/instance.html", d=detail)


@router.get("/instances/{instance_id}/details")
def instance_details(
    instance_id: str, request: Request, session: SessionDep, _user: AnalystDep
) -> Response:
    """The page's data part, re-rendered when the instance moved."""
    return render(request, "analyst/_instance_details.html", d=_detail(session, instance_id))


@router.get("/instances/{instance_id}/marker")
def instance_marker(instance_id: str, session: SessionDep, _user: AnalystApiDep) -> dict[str, Any]:
    """`{marker, status}`: the marker changes whenever the instance changes."""
    marker, status = views.instance_marker(session, instance_id)
    return {"marker": marker, "status": status, "final": status in views.FINAL_STATUSES}


@router.get("/instances/{instance_id}/diagram")
def instance_diagram(instance_id: str, session: SessionDep, _user: AnalystApiDep) -> dict[str, Any]:
    """Like GET /api/instances/{id}/diagram, plus the elements with an open incident."""
    diagram = service.instance_diagram(session, instance_id=instance_id)
    detail = views.instance_detail(session, instance_id)
    failed = sorted({i.element_id for i in detail.incidents if i.state == "open"})
    return {**diagram, "incidents": failed, "status": detail.instance.status}
