"""Shared fixtures: a real SQLite file and the real local PostgreSQL, one clean schema a test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from engine.db import make_engine, make_session_factory
from engine.models import Base

PG_URL = os.environ.get("POTOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, for this test run only.

    Runs in parallel (CI, several developers) share one server; a private database keeps
    one run's truncations out of another's tables.
    """
    name = f"potok_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - only when the server is absent
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """The private PostgreSQL database with potok's tables, created once for the run."""
    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A clean database of each kind: a fresh SQLite file, or truncated PostgreSQL tables."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'potok.sqlite3'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    pg: Engine = request.getfixturevalue("pg_engine")
    _truncate_all(pg)
    yield pg


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"third-party corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR
