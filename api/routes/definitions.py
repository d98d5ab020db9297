"""Process definitions: list, read, XML, deploy (multipart) and validate."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep, SettingsDep
from api.idempotency import Idempotency
from api.pagination import PageDep, paginate_items
from api.queries import definition_versions_query
from api.schemas.common import error_docs
from api.schemas.definitions import (
    MAX_VERSION,
    DefinitionDetailRead,
    DefinitionPage,
    DefinitionRead,
    DefinitionVersionRead,
    DeployedRead,
    DeployIssueRead,
    DeployRead,
    ValidationRead,
)
from api.uploads import read_files, upload_fingerprint
from engine import service

logger = logging.getLogger("potok.api")

router = APIRouter(tags=["definitions"])

Reader = Annotated[Principal, Depends(require_scope("read"))]
Deployer = Annotated[Principal, Depends(require_scope("definitions:deploy"))]
Version = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="A version; default: the latest")
]
Files = Annotated[
    list[UploadFile], File(description="`.bpmn`, `.dmn` and form `.json` files, one or more")
]
NOT_FOUND = error_docs((404, "No such definition or version"))


@router.get("/definitions", response_model=DefinitionPage, summary="List definitions")
def list_definitions(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    all_versions: Annotated[bool, Query(description="Every version, not only the latest")] = False,
) -> DefinitionPage:
    """The latest version of each process (or all versions), by key and version."""
    rows = service.list_definitions(session, all_versions=all_versions)
    items, cursor = paginate_items(rows, key=lambda d: (d.key, d.version), page=page)
    return DefinitionPage(
        items=[DefinitionRead.model_validate(d) for d in items], next_cursor=cursor
    )


@router.get(
    "/definitions/{key}",
    response_model=DefinitionDetailRead,
    summary="Read a definition",
    responses=NOT_FOUND,
)
def read_definition(
    key: str, session: SessionDep, _caller: Reader, version: Version = None
) -> DefinitionDetailRead:
    """The latest (or given) version of `key`, with the list of all its versions."""
    definition = service.get_definition_or_raise(session, key=key, version=version)
    versions = session.scalars(definition_versions_query(key))
    return DefinitionDetailRead.model_validate(
        {
            **DefinitionRead.model_validate(definition).model_dump(),
            "versions": [DefinitionVersionRead.model_validate(v) for v in versions],
        }
    )


@router.get(
    "/definitions/{key}/xml",
    response_class=Response,
    summary="BPMN XML of a definition",
    responses={200: {"content": {"application/xml": {}}}, **NOT_FOUND},
)
def read_definition_xml(
    key: str, session: SessionDep, _caller: Reader, version: Version = None
) -> Response:
    """The stored BPMN XML of the latest (or given) version."""
    definition = service.get_definition_or_raise(session, key=key, version=version)
    return Response(content=definition.bpmn_xml, media_type="application/xml")


@router.post(
    "/definitions",
    response_model=DeployRead,
    status_code=201,
    summary="Deploy",
    responses={
        200: {"model": DeployRead, "description": "Same content as the latest version"},
        **error_docs((413, "Upload too large")),
    },
)
def deploy_definitions(
    files: Files, settings: SettingsDep, session: SessionDep, idem: Idempotency, caller: Deployer
) -> Any:
    """Store a new version of each uploaded process whose content changed (422 if invalid)."""
    uploaded = read_files(files, max_bytes=settings.max_upload_bytes)

    def produce() -> tuple[int, DeployRead]:
        outcome = service.deploy(session, files=uploaded, deployed_by=caller.username)
        deployed = [DeployedRead.model_validate(d, from_attributes=True) for d in outcome.deployed]
        return (201 if outcome.created_any else 200), DeployRead(deployed=deployed)

    return idem.run(body=upload_fingerprint(uploaded), produce=produce)


@router.post(
    "/definitions/validate",
    response_model=ValidationRead,
    summary="Validate without deploying",
    responses=error_docs((413, "Upload too large")),
)
def validate_definitions(files: Files, settings: SettingsDep, _caller: Deployer) -> ValidationRead:
    """Errors and warnings of the uploaded files, with element ids and lines; stores nothing."""
    uploaded = read_files(files, max_bytes=settings.max_upload_bytes)
    return validation_report(uploaded, log=logger)


def validation_report(uploaded: list[tuple[str, bytes]], *, log: logging.Logger) -> ValidationRead:
    """Errors and warnings of `uploaded` (also for the analyst modeler); stores nothing."""
    try:
        result = service.validate_files(uploaded)
    except Exception as exc:
        # The contract is "never a 5xx for any input": a parser crash is a validation error.
        log.exception("validate_files crashed")
        issue = DeployIssueRead(file=None, element_id=None, line=None, msg=f"cannot parse: {exc}")
        return ValidationRead(ok=False, errors=[issue])
    return ValidationRead(
        ok=result.ok,
        errors=[DeployIssueRead.model_validate(i.as_dict()) for i in result.errors],
        warnings=[DeployIssueRead.model_validate(i.as_dict()) for i in result.warnings],
    )
