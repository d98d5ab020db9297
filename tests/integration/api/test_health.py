"""GET /api/health: database and broker status, 200 even when degraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from engine.db import make_engine, make_session_factory
from engine.settings import Settings


def _health(settings: Settings, factory: sessionmaker[Session]) -> dict[str, str]:
    with TestClient(create_app(settings=settings, session_factory=factory)) as client:
        response = client.get("/api/health")
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_healthy_embedded(client: TestClient) -> None:
    """Database up and no broker configured: ok / embedded, without any token."""
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "database": "ok", "broker": "embedded", "version": "0.1.0"}


def test_broker_down_is_degraded(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """An unreachable broker makes the status degraded, answered within about a second."""
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    body = _health(down, session_factory)
    assert body == {"status": "degraded", "database": "ok", "broker": "down", "version": "0.1.0"}


def test_database_down_is_degraded(settings: Settings) -> None:
    """An unreachable database is reported, not raised."""
    engine = make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    body = _health(settings, make_session_factory(engine))
    assert body == {
        "status": "degraded",
        "database": "down",
        "broker": "embedded",
        "version": "0.1.0",
    }


@pytest.mark.broker
def test_broker_up_is_ok(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """The local Redis answers: broker ok."""
    up = settings.model_copy(update={"broker_url": "redis://127.0.0.1:6379/0"})
    body = _health(up, session_factory)
    assert body == {"status": "ok", "database": "ok", "broker": "ok", "version": "0.1.0"}


def test_default_app_uses_settings_database(settings: Settings, tmp_path: Path) -> None:
    """Without a factory, the app opens the settings' database (and wires job dispatch)."""
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    own = settings.model_copy(update={"database_url": url})
    with TestClient(create_app(settings=own)) as client:
        response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
