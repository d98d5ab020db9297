"""Pooled PostgreSQL connections: idle ones are pinged, a dead one is replaced, not returned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from engine import db


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    admin = db.make_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.fixture
def pool_with_a_dead_connection(pg_url: str) -> Iterator[tuple[Engine, int]]:
    """An engine whose only pooled connection the server has terminated, and its old pid."""
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    first = _backend_pid(engine)
    _terminate(pg_url, first)
    yield engine, first
    engine.dispose()


def test_an_idle_connection_the_server_killed_is_replaced_on_checkout(
    pool_with_a_dead_connection: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, first = pool_with_a_dead_connection
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection is "idle"
    second = _backend_pid(engine)  # no error: the ping failed and a new connection came
    assert second != first


def test_a_connection_used_a_moment_ago_is_not_pinged_and_a_dead_one_fails_once(
    pool_with_a_dead_connection: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, first = pool_with_a_dead_connection
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    # SQLAlchemy invalidated the dead connection: the next unit of work gets a live one.
    assert _backend_pid(engine) != first
