"""The modeler page and the JSON endpoints its script calls (session cookie + CSRF header).

`/analyst/api/validate` and `/analyst/api/deploy` answer exactly like the REST API's
`POST /api/definitions/validate` and `POST /api/definitions` (same schemas, same engine
calls); they exist because the browser holds a session cookie, not a bearer token.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import SessionDep, SettingsDep
from api.routes.definitions import validation_report
from api.schemas.definitions import (
    MAX_VERSION,
    DeployedRead,
    DeployRead,
    ValidationRead,
)
from api.uploads import read_files
from api.web.analyst import catalog, views
from api.web.analyst.access import AnalystApiDep, AnalystDep
from api.web.analyst.views import page_json
from api.web.security import PageError
from api.web.templating import render, request_locale
from engine import service
from engine.errors import NotFoundError

logger = logging.getLogger("potok.web")

router = APIRouter()

Version = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]
Files = Annotated[list[UploadFile], File()]


@router.get("/modeler")
def modeler_page(
    request: Request,
    session: SessionDep,
    user: AnalystDep,
    key: Annotated[str | None, Query(max_length=100)] = None,
    version: Version = None,
    template: Annotated[str | None, Query(max_length=40)] = None,
    name: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The modeler on a deployed version, on a new process from a template, or the chooser."""
    if key is None:
        return _new_process_page(request, session)
    if template is not None:
        return _open_template(request, session, key=key, name=name, template=template)
    try:
        definition = service.get_definition_or_raise(session, key=key, version=version)
    except NotFoundError as exc:
        raise PageError(404, "not_found") from exc
    versions = views.version_numbers(session, key)
    return _modeler(request, session, catalog.bundle(definition), versions)


def _new_process_page(
    request: Request, session: SessionDep, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("draft", {"key": "", "name": "", "template": "approval"})
    return render(
        request,
        "analyst/new_process.html",
        status_code=status_code,
        templates=list(catalog.TEMPLATES),
        definitions=service.list_definitions(session),
        **context,
    )


def _open_template(
    request: Request, session: SessionDep, *, key: str, name: str, template: str
) -> Response:
    draft = {"key": key, "name": name, "template": template}
    if not catalog.KEY_PATTERN.match(key):
        return _new_process_page(request, session, 422, draft=draft, error="invalid_key")
    if catalog.key_taken(session, key):
        return _new_process_page(request, session, 409, draft=draft, error="key_taken")
    opened = catalog.new_process(template, key=key, name=name, locale=request_locale(request))
    return _modeler(request, session, opened, [])


def _modeler(
    request: Request, session: SessionDep, opened: dict[str, Any], versions: list[int]
) -> Response:
    config = {
        "process": opened,
        "versions": versions,
        "operators": catalog.operators(),
        "groups": catalog.groups(session),
        "forms": catalog.known_forms(session),
        "urls": {
            "validate": "/analyst/api/validate",
            "deploy": "/analyst/api/deploy",
            "bundle": "/analyst/api/definitions/{key}/bundle",
            "modeler": "/analyst/modeler",
            "definition": "/analyst/definitions/{key}",
        },
    }
    return render(request, "analyst/modeler.html", process=opened, config_json=page_json(config))


@router.get("/api/definitions/{key}/bundle")
def definition_bundle(
    key: str, session: SessionDep, _user: AnalystApiDep, version: Version = None
) -> dict[str, Any]:
    """One deployed version with the files it needs: what the modeler opens."""
    definition = service.get_definition_or_raise(session, key=key, version=version)
    return catalog.bundle(definition)


@router.post("/api/validate", response_model=ValidationRead)
def validate(files: Files, settings: SettingsDep, _user: AnalystApiDep) -> ValidationRead:
    """Errors and warnings of the edited diagram (and its forms), by element; stores nothing."""
    uploaded = read_files(files, max_bytes=settings.max_upload_bytes)
    return validation_report(uploaded, log=logger)  # same promise as the REST endpoint


@router.post("/api/deploy", response_model=DeployRead)
def deploy(
    files: Files, settings: SettingsDep, session: SessionDep, user: AnalystApiDep
) -> JSONResponse:
    """A new version of each changed process (201), the current one (200), or 422 with details."""
    uploaded = read_files(files, max_bytes=settings.max_upload_bytes)
    outcome = service.deploy(session, files=uploaded, deployed_by=user.username)
    deployed = [DeployedRead.model_validate(d, from_attributes=True) for d in outcome.deployed]
    body = DeployRead(deployed=deployed).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if outcome.created_any else 200)


@router.get("/modeler/new")
def new_process_redirect() -> RedirectResponse:
    """The template chooser lives at /analyst/modeler."""
    return RedirectResponse("/analyst/modeler", status_code=303)
