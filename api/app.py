"""The FastAPI application factory: `create_app()` builds everything, importing builds nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.errors import install_error_handlers
from api.health import app_version
from api.schemas.common import ErrorRead
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


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorRead, "description": description}


# Declared on every route so the OpenAPI schema describes our error body, not FastAPI's.
PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _error("Invalid request (`details`: `[{loc, msg}]`)"),
    500: _error("Unexpected server error"),
    503: _error("Database busy or unavailable"),
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    **PUBLIC_ERRORS,
    401: _error("Missing, invalid or expired token"),
    403: _error("The token or user lacks the right"),
}


def _routers() -> list[tuple[APIRouter, dict[int | str, dict[str, Any]]]]:
    """Each domain router with the error responses it can give."""
    from api.routes import auth, health

    return [(health.router, PUBLIC_ERRORS), (auth.router, PUBLIC_ERRORS)]


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the API application for `settings` on `session_factory` (default: settings' DB)."""
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
    install_error_handlers(app)
    for router, responses in _routers():
        app.include_router(router, prefix=API_PREFIX, responses=responses)
    return app
