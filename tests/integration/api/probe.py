"""A test-only router that exercises the API platform (errors, auth, idempotency, paging)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from api.auth.deps import CurrentUser, require_role, require_scope
from api.auth.service import Principal
from api.deps import SessionDep
from api.idempotency import Idempotency
from api.pagination import PageDep, paginate_query
from api.schemas.common import Page
from engine.errors import ConflictError, NotFoundError, TaskAlreadyClaimed, ValidationFailed
from engine.models import UserGroup

router = APIRouter(prefix="/api/probe")


class GroupCreate(BaseModel):
    name: str
    title: str = ""
    delay: float = 0.0


class GroupRead(BaseModel):
    name: str
    title: str


@router.post("/groups", status_code=201, response_model=GroupRead)
def create_group(
    body: GroupCreate, session: SessionDep, idem: Idempotency, _user: CurrentUser
) -> Any:
    """Create a group once per Idempotency-Key; `delay` widens the race window."""

    def produce() -> tuple[int, GroupRead]:
        time.sleep(body.delay)
        if session.get(UserGroup, body.name) is not None:
            raise ConflictError("group exists", code="group_exists")
        session.add(UserGroup(name=body.name, title=body.title))
        session.flush()
        return 201, GroupRead(name=body.name, title=body.title)

    return idem.run(body=body.model_dump(mode="json"), produce=produce)


@router.get("/groups", response_model=Page[GroupRead])
def list_groups(session: SessionDep, page: PageDep, _user: CurrentUser) -> Page[GroupRead]:
    """Groups by name, one page at a time."""
    rows, cursor = paginate_query(session, select(UserGroup), order_by=[UserGroup.name], page=page)
    items = [GroupRead(name=r.name, title=r.title) for r in rows]
    return Page[GroupRead](items=items, next_cursor=cursor)


@router.post("/write-then-fail")
def write_then_fail(session: SessionDep) -> None:
    """Write a row, then fail: the request's unit of work must roll it back."""
    session.add(UserGroup(name="ghost", title="must not persist"))
    session.flush()
    raise NotFoundError("nothing here")


@router.post("/write")
def write(session: SessionDep) -> dict[str, str]:
    """Write a row and succeed: the request's unit of work must commit it."""
    session.add(UserGroup(name="kept", title="persists"))
    return {"name": "kept"}


@router.get("/scoped")
def scoped(principal: Annotated[Principal, Depends(require_scope("tasks"))]) -> dict[str, str]:
    return {"username": principal.username}


@router.get("/role")
def role(principal: Annotated[Principal, Depends(require_role("accountant"))]) -> dict[str, str]:
    return {"username": principal.username}


_ERRORS: dict[str, Callable[[], Exception]] = {
    "boom": lambda: RuntimeError("secret internals: password=hunter2"),
    "stale": lambda: StaleDataError("UPDATE expected 1 row, matched 0"),
    "locked": lambda: OperationalError("UPDATE x", {}, Exception("database is locked")),
    "down": lambda: OperationalError("SELECT 1", {}, Exception("connection refused")),
    "claimed": lambda: TaskAlreadyClaimed("task taken by anna"),
    "invalid": lambda: ValidationFailed("bad form", details=[{"loc": ["amount"], "msg": "big"}]),
    "missing": lambda: NotFoundError("no such thing"),
    "nul": lambda: DataError("SELECT", {}, Exception("text fields cannot contain NUL")),
}


@router.get("/raise/{kind}")
def raise_error(kind: str) -> None:
    """Raise the named exception, to see how the API answers it."""
    raise _ERRORS[kind]()
