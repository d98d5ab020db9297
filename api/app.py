"""The FastAPI application factory: `create_app()` builds everything, importing builds nothing."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.deps import AfterCommit, gate_for
from api.errors import install_error_handlers
from api.health import app_version
from api.schemas.common import Responses, error_docs
from engine.db import get_engine, make_session_factory
from engine.settings import Settings, get_settings

API_PREFIX = "/api"

DESCRIPTION = """\
REST API of **potok**, a BPMN orchestrator for online shops.

* Authenticate with `Authorization: Bearer <token>` (`POST /api/auth/token`, or a long-lived
  integration token from `potok token create`).
* Every 4xx/5xx body is `{"error": {"code", "message", "details"}}`.
* Creating `POST`s accept an `Idempotency-Key` header.
* Lists take `limit` (1–500, default 50) and `cursor`, and return `{"items", "next_cursor"}`.
"""


# Declared on every route so the OpenAPI schema describes our error body, not FastAPI's.
PUBLIC_ERRORS = error_docs(
    (400, "Malformed request (a body that cannot be decoded)"),
    (422, "Invalid request (`details`: `[{loc, msg}]`)"),
    (500, "Unexpected server error"),
    (503, "Database busy or unavailable"),
)
AUTH_ERRORS = PUBLIC_ERRORS | error_docs(
    (401, "Missing, invalid or expired token"), (403, "The token or user lacks the right")
)


def _routers() -> list[tuple[APIRouter, Responses]]:
    """Each domain router with the error responses it can give."""
    from api.routes import auth, definitions, health, incidents, instances, messages, tasks

    return [
        (health.router, PUBLIC_ERRORS),
        (auth.router, PUBLIC_ERRORS),
        (definitions.router, AUTH_ERRORS),
        (instances.router, AUTH_ERRORS),
        (messages.router, AUTH_ERRORS),
        (tasks.router, AUTH_ERRORS),
        (incidents.router, AUTH_ERRORS),
    ]


def create_app(
    settings: Settings | None = None,
    session_factory: sessionmaker[Session] | None = None,
    after_commit: Sequence[AfterCommit] = (),
) -> FastAPI:
    """Build the API application for `settings` on `session_factory` (default: settings' DB).

    `after_commit` hooks run with the request's session after each successful commit (the
    session's `info` still holds what the unit of work recorded, e.g. new job ids).
    """
    settings = settings or get_settings()
    if session_factory is None:
        session_factory = make_session_factory(get_engine(settings.database_url))
    app = FastAPI(
        title="potok",
        version=app_version(),
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.after_commit = list(after_commit)
    app.state.db_gate = gate_for(session_factory)
    install_error_handlers(app)
    for router, responses in _routers():
        app.include_router(router, prefix=API_PREFIX, responses=responses)
    return app
