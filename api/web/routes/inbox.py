"""The inbox page, its rows fragment, and the Server-Sent Events stream that keeps it live.

The stream polls one cheap aggregate (`inbox.change_marker`) about once a second per open
page and sends `changed` when it moves; the page then re-fetches its rows with htmx. The
database is the only source, so changes made by workers or other web processes show up too.
While a stream is open it is also the user's presence heartbeat (online-only queues).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep
from api.web.inbox import InboxQuery, change_marker, load_inbox
from api.web.security import UserDep, WebUser, session_user
from api.web.templating import render
from engine import queues
from engine.models import utcnow

router = APIRouter()

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 30.0
KEEPALIVE_SECONDS = 15.0
# Streams end now and then; the browser reconnects (with Last-Event-ID) at once.
STREAM_SECONDS = 300.0


def _query(request: Request) -> InboxQuery:
    return InboxQuery.from_params(dict(request.query_params))


def marker_id(marker: tuple[Any, ...]) -> str:
    """A short stable id of a change marker (the SSE event id)."""
    return hashlib.sha256(repr(marker).encode()).hexdigest()[:16]


@router.get("/inbox")
def inbox_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The inbox: tabs, filters, the task list; live through /inbox/events."""
    now = utcnow()
    inbox = load_inbox(session, actor=user.actor, query=_query(request), now=now)
    since = marker_id(change_marker(session, actor=user.actor, now=now))
    return render(request, "inbox.html", inbox=inbox, since=since, now=now)


@router.get("/inbox/rows")
def inbox_rows(request: Request, session: SessionDep, user: UserDep) -> Response:
    """The rows of the current tab (and the tab counters, out of band) for htmx."""
    now = utcnow()
    query = _query(request)
    inbox = load_inbox(session, actor=user.actor, query=query, now=now)
    # The address bar follows the filters, so a reload or a shared link shows the same list.
    address = "/inbox?" + urlencode(query.params()) if query.params() else "/inbox"
    return render(
        request,
        "_inbox_rows.html",
        headers={"HX-Replace-Url": address},
        inbox=inbox,
        now=now,
        oob=True,
    )


def _gate(request: Request) -> AbstractAsyncContextManager[Any]:
    # On SQLite every transaction takes the write lock: wait in the event loop, not in a
    # thread (see api.deps.SerialGate).
    gate = getattr(request.app.state, "db_gate", None)
    return gate.lock() if gate is not None else nullcontext()


def _poll(factory: sessionmaker[Session], user: WebUser, beat: bool) -> tuple[Any, ...]:
    with factory() as session:
        now = utcnow()
        if beat:
            queues.heartbeat(session, username=user.username, now=now)
        marker = change_marker(session, actor=user.actor, now=now)
        session.commit()
    return marker


def _signed_in(request: Request, factory: sessionmaker[Session]) -> WebUser | None:
    with factory() as session:
        user = session_user(request, session)
        session.rollback()
    return user


async def _events(
    request: Request, factory: sessionmaker[Session], user: WebUser, since: str | None
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    started = last_beat = last_sent = time.monotonic()
    seen, first = since, True
    while time.monotonic() - started < STREAM_SECONDS:
        beat = first or time.monotonic() - last_beat >= HEARTBEAT_SECONDS
        async with _gate(request):
            marker = await run_in_threadpool(_poll, factory, user, beat)
        if beat:
            last_beat = time.monotonic()
        current = marker_id(marker)
        if current != seen:
            kind = "ready" if first and seen is None else "changed"
            yield f"id: {current}\nevent: {kind}\ndata: {current}\n\n"
            seen, last_sent = current, time.monotonic()
        elif time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        first = False
        if await request.is_disconnected():
            break
        await asyncio.sleep(POLL_SECONDS)


@router.get("/inbox/events")
async def inbox_events(request: Request, since: str | None = None) -> Response:
    """`text/event-stream`: `changed` whenever the user's inbox may have changed."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    async with _gate(request):
        user = await run_in_threadpool(_signed_in, request, factory)
    if user is None:
        return Response(status_code=401)
    baseline = request.headers.get("last-event-id") or since
    return StreamingResponse(
        _events(request, factory, user, baseline),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
