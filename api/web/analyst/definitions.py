"""Definitions pages: every process with its versions, one process, two versions compared."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.schemas.definitions import MAX_VERSION
from api.web.analyst import views
from api.web.analyst.access import AnalystDep
from api.web.analyst.diff import diff_diagrams
from api.web.security import PageError
from api.web.templating import render
from engine import service
from engine.errors import NotFoundError
from engine.models import ProcessDefinition

router = APIRouter()

Version = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]


@router.get("")
def analyst_home() -> RedirectResponse:
    """The definitions list is the analyst's start page."""
    return RedirectResponse("/analyst/definitions", status_code=303)


@router.get("/definitions")
def definitions_page(request: Request, session: SessionDep, _user: AnalystDep) -> Response:
    """Every process with its versions, who deployed them, and how many instances run."""
    return render(request, "analyst/definitions.html", processes=views.process_rows(session))


def _definition(session: SessionDep, key: str, version: int | None) -> ProcessDefinition:
    try:
        return service.get_definition_or_raise(session, key=key, version=version)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc


@router.get("/definitions/{key}")
def definition_page(key: str, request: Request, session: SessionDep, _user: AnalystDep) -> Response:
    """One process: its versions, and a form to compare two of them."""
    rows = views.process_rows(session, key=key)
    if not rows:
        raise PageError(404, "not_found")
    return render(request, "analyst/definition.html", process=rows[0])


@router.get("/definitions/{key}/compare")
def compare_page(
    key: str,
    request: Request,
    session: SessionDep,
    _user: AnalystDep,
    a: Version = None,
    b: Version = None,
) -> Response:
    """Two versions side by side; added, removed and changed elements highlighted."""
    versions = views.version_numbers(session, key)
    if not versions:
        raise PageError(404, "not_found")
    b = b or versions[-1]
    a = a or next((v for v in reversed(versions) if v < b), b)
    old, new = _definition(session, key, a), _definition(session, key, b)
    diff = diff_diagrams(old.bpmn_xml, new.bpmn_xml)
    data = {"old": old.bpmn_xml, "new": new.bpmn_xml, "diff": diff.as_dict()}
    return render(
        request,
        "analyst/compare.html",
        key=key,
        name=new.name or key,
        versions=versions,
        old=old,
        new=new,
        diff=diff,
        data_json=views.page_json(data),
    )


@router.get("/definitions/{key}/xml")
def definition_xml(
    key: str, session: SessionDep, _user: AnalystDep, version: Version = None
) -> Response:
    """The stored BPMN XML of a version, as a download."""
    definition = _definition(session, key, version)
    filename = f"{definition.key}-v{definition.version}.bpmn"
    return Response(
        definition.bpmn_xml,
        media_type="application/xml",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
