"""Process instances: start, list with filters, read, history, terminate, diagram."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.auth.deps import require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.errors import ApiError
from api.idempotency import Idempotency
from api.pagination import MAX_DB_INT, PageDep, PageParams, encode_cursor, paginate_query
from api.queries import MAX_VARIABLE_FILTERS, InstanceFilters, instances_query, variable_filters
from api.schemas.common import error_docs
from api.schemas.definitions import MAX_VERSION
from api.schemas.instances import (
    DiagramRead,
    HistoryEventRead,
    HistoryPage,
    InstanceCreate,
    InstancePage,
    InstanceRead,
    InstanceStatus,
)
from engine import service
from engine.models import ProcessInstance

router = APIRouter(tags=["instances"])

Reader = Annotated[Principal, Depends(require_scope("read"))]
Starter = Annotated[Principal, Depends(require_scope("processes:start"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
NOT_FOUND = error_docs((404, "No such instance"))


def _read(session: SessionDep, instance: ProcessInstance) -> InstanceRead:
    return InstanceRead.model_validate(service.describe_instance(session, instance=instance))


@router.post(
    "/processes/{key}/instances",
    response_model=InstanceRead,
    status_code=201,
    summary="Start an instance",
    responses=error_docs((404, "No such process or version")),
)
def start_instance(
    key: str,
    body: InstanceCreate,
    session: SessionDep,
    idem: Idempotency,
    caller: Starter,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="Default: the latest")
    ] = None,
) -> Any:
    """Start the latest (or given) version of process `key` and run it until it waits."""

    def produce() -> tuple[int, InstanceRead]:
        instance = service.start_instance(
            session,
            key=key,
            variables=body.variables,
            business_key=body.business_key,
            version=version,
            actor=caller.actor,
        )
        return 201, _read(session, instance)

    return idem.run(body=body.model_dump(mode="json"), produce=produce)


def _instance_filters(
    request: Request,
    key: Annotated[str | None, Query(description="Process key")] = None,
    status: Annotated[InstanceStatus | None, Query()] = None,
    business_key: Annotated[str | None, Query()] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
) -> InstanceFilters:
    """The declared filters plus any `variable.<name>=<value>` parameters."""
    variables = variable_filters(request.query_params.multi_items())
    if len(variables) > MAX_VARIABLE_FILTERS:
        raise ApiError(
            422,
            "validation_error",
            f"At most {MAX_VARIABLE_FILTERS} variable filters",
            details=[{"loc": ["query", "variable"], "msg": "too many variable filters"}],
        )
    return InstanceFilters(
        key=key,
        status=status,
        business_key=business_key,
        created_after=created_after,
        created_before=created_before,
        variables=variables,
    )


@router.get(
    "/instances",
    response_model=InstancePage,
    summary="List instances",
    description="Newest first. Besides the declared filters, `variable.<name>=<value>` "
    "matches a top-level scalar variable (e.g. `variable.order_id=A-17`).",
)
def list_instances(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    filters: Annotated[InstanceFilters, Depends(_instance_filters)],
) -> InstancePage:
    """Instances matching every filter, newest first."""
    rows, cursor = paginate_query(
        session,
        instances_query(filters),
        order_by=[ProcessInstance.created_at, ProcessInstance.id],
        page=page,
        descending=True,
    )
    described = service.describe_instances(session, instances=list(rows))
    items = [InstanceRead.model_validate(item) for item in described]
    return InstancePage(items=items, next_cursor=cursor)


@router.get(
    "/instances/{instance_id}",
    response_model=InstanceRead,
    summary="Read an instance",
    responses=NOT_FOUND,
)
def read_instance(instance_id: str, session: SessionDep, _caller: Reader) -> InstanceRead:
    """Status, variables, active elements and open incidents of one instance."""
    return _read(session, service.get_instance_or_raise(session, instance_id=instance_id))


@router.get(
    "/instances/{instance_id}/history",
    response_model=HistoryPage,
    summary="History of an instance",
    responses=NOT_FOUND,
)
def read_history(
    instance_id: str, session: SessionDep, _caller: Reader, page: PageDep
) -> HistoryPage:
    """Who did what and which variables changed, oldest first."""
    after_id = _history_after(page)
    events = service.list_history(
        session, instance_id=instance_id, limit=page.limit + 1, after_id=after_id
    )
    kept = events[: page.limit]
    cursor = encode_cursor([kept[-1].id]) if len(events) > page.limit else None
    return HistoryPage(items=[HistoryEventRead.model_validate(e) for e in kept], next_cursor=cursor)


def _history_after(page: PageParams) -> int | None:
    if page.after is None:
        return None
    (after_id,) = page.after if len(page.after) == 1 else (None,)
    if not isinstance(after_id, int) or isinstance(after_id, bool) or after_id > MAX_DB_INT:
        details = [{"loc": ["query", "cursor"], "msg": "not a cursor returned by this API"}]
        raise ApiError(422, "invalid_cursor", "The cursor is invalid", details=details)
    return after_id


@router.post(
    "/instances/{instance_id}/terminate",
    response_model=InstanceRead,
    summary="Terminate an instance (admin)",
    responses=error_docs((404, "No such instance"), (409, "The instance already finished")),
)
def terminate_instance(instance_id: str, session: SessionDep, caller: Admin) -> InstanceRead:
    """Cancel a running instance: its waits are dropped and nothing of it runs again."""
    instance = service.terminate_instance(session, instance_id=instance_id, actor=caller.actor)
    return _read(session, instance)


@router.get(
    "/instances/{instance_id}/diagram",
    response_model=DiagramRead,
    summary="Diagram of an instance",
    responses=NOT_FOUND,
)
def read_diagram(instance_id: str, session: SessionDep, _caller: Reader) -> DiagramRead:
    """The BPMN XML with completed and active element ids, for the viewer."""
    return DiagramRead.model_validate(service.instance_diagram(session, instance_id=instance_id))
