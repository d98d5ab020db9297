"""Request dependencies: settings, and the one session per request that commits once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from engine.settings import Settings

logger = logging.getLogger("potok.api")


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The session factory the app was created with (for work outside the request session)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


AfterCommit = Callable[[Session], None]


def _after_commit(request: Request, session: Session) -> None:
    # E.g. sending the jobs this unit of work created to the broker: only once they are
    # committed, and a failure here must not turn a committed success into an error
    # (the database is the truth; a sweeper re-sends what the broker never got).
    hooks: list[AfterCommit] = getattr(request.app.state, "after_commit", [])
    for hook in hooks:
        try:
            hook(session)
        except Exception:
            logger.exception("after-commit hook %r failed", hook)


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit after the route succeeds, roll back otherwise."""
    session = get_session_factory(request)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    else:
        _after_commit(request, session)
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit becomes an error
# response instead of a 2xx for work that never persisted.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
