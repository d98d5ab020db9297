"""The user's own page: who I am, my queues, the online switch, the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.web.security import UserDep, flash
from api.web.templating import render
from engine import queues
from engine.models import User, utcnow

router = APIRouter()


@router.get("/me")
def my_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """My profile, presence and the policies of my queues."""
    row = session.get(User, user.id)
    now = utcnow()
    mine = [p for p in queues.list_policies(session) if p.name in user.groups]
    return render(
        request,
        "me.html",
        profile=row,
        online=queues.is_online(row, now),
        available=queues.is_available(session, username=user.username),
        policies=mine,
        hidden=queues.hidden_queues(session, actor=user.actor, now=now),
        now=now,
    )


@router.post("/me/online")
def set_online(
    request: Request,
    session: SessionDep,
    user: UserDep,
    online: Annotated[str, Form(max_length=5)] = "0",
) -> RedirectResponse:
    """The explicit switch: online for a shift, or offline (heartbeats then do nothing)."""
    wanted = online in ("1", "on", "true")
    queues.set_available(session, username=user.username, available=wanted, now=utcnow())
    flash(request, "online_on" if wanted else "online_off")
    return RedirectResponse("/me", status_code=303)
