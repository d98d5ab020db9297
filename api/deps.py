"""Request dependencies: settings, and the one session per request that commits once."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from engine.db import session_scope
from engine.settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The session factory the app was created with (for work outside the request session)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


class SerialGate:
    """Admits one unit of work at a time, queueing the others in the event loop.

    For SQLite: every transaction there starts with BEGIN IMMEDIATE (engine.db), so units of
    work run one at a time anyway. Left to the database, the waiters would each sit in a
    worker thread inside SQLite's busy handler, and with more waiters than threads the one
    request holding the lock gets no thread to finish on: everyone times out. Waiting here
    costs no thread.
    """

    def __init__(self) -> None:
        # One lock per event loop: asyncio locks are bound to the loop that first uses them.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        """The lock of the running event loop."""
        loop = asyncio.get_running_loop()
        if loop not in self._locks:
            self._locks[loop] = asyncio.Lock()
        return self._locks[loop]


def gate_for(factory: sessionmaker[Session]) -> SerialGate | None:
    """A SerialGate when the factory's database is SQLite, else None (no gate needed)."""
    bind = factory.kw.get("bind")
    dialect = getattr(getattr(bind, "dialect", None), "name", "")
    return SerialGate() if dialect == "sqlite" else None


async def _unit_of_work_gate(request: Request) -> AsyncIterator[None]:
    gate: SerialGate | None = getattr(request.app.state, "db_gate", None)
    if gate is None:
        yield
        return
    async with gate.lock():
        yield


def get_session(
    request: Request, _gate: Annotated[None, Depends(_unit_of_work_gate, scope="function")]
) -> Iterator[Session]:
    """One unit of work per request: commit after the route succeeds, roll back otherwise."""
    with session_scope(get_session_factory(request)) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit becomes an error
# response instead of a 2xx for work that never persisted.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
