"""The FastAPI application factory: `create_app()` builds everything, importing builds nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.deps import gate_for
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


def _mount_sandboxes(
    app: FastAPI, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """The sandbox doubles at /sandbox/<system>, notifying our own hooks (never in production:
    their control endpoints have no authentication)."""
    from connectors.sandbox_kit import SandboxSettings
    from connectors.sandbox_store import SandboxStore
    from connectors.sandboxes import mount_sandboxes
    from handlers.settings import sandbox_root

    public = sandbox_root(settings).removesuffix("/sandbox")
    per_system = {
        system: SandboxSettings(webhook_url=f"{public}/hooks/{system}")
        for system in ("yookassa", "whatsapp")
    }
    mount_sandboxes(app, SandboxStore(session_factory), per_system=per_system)


def _default_session_factory(settings: Settings) -> sessionmaker[Session]:
    """The settings' database, with jobs created by requests sent to the broker on commit."""
    from engine.jobs import install_job_dispatch
    from engine.workers.app import make_celery

    factory = make_session_factory(get_engine(settings.database_url))
    install_job_dispatch(factory, make_celery(settings).send_job)
    return factory


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the API application for `settings` on `session_factory`.

    Without a factory the app uses the settings' database and sends the jobs each request
    creates to the broker after commit; a given factory is used as is (tests install their
    own dispatch when they need one).
    """
    settings = settings or get_settings()
    import handlers  # noqa: F401  (registers the operators: inline ones run in requests)

    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if session_factory is None:
        session_factory = _default_session_factory(settings)
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
    app.state.db_gate = gate_for(session_factory)
    install_error_handlers(app)
    from api.web.analyst import install_analyst

    install_analyst(app)  # the analyst workspace: modeler, definitions, instances, incidents
    for router, responses in _routers():
        app.include_router(router, prefix=API_PREFIX, responses=responses)
    from api.routes import hooks

    app.include_router(hooks.router)  # /hooks/*: vendors' webhooks, verified their own way
    if settings.env != "production":
        _mount_sandboxes(app, settings, session_factory)
    from api.web.directories_admin import install_directories

    # The directories' admin pages and reports (/admin/directories, /api/reports/*).
    install_directories(app, api_prefix=API_PREFIX, responses=AUTH_ERRORS)
    if settings.env != "production":
        from api.web.demo.routes import router as demo_router

        app.include_router(demo_router, include_in_schema=False)  # the customer simulator
    from api.web import install_web

    install_web(app)  # the task inbox and admin pages, with their session cookie
    return app
