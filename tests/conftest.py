"""Shared fixtures: a real SQLite file and the real local PostgreSQL, one clean schema a test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from engine.db import make_engine, make_session_factory
from engine.models import Base

PG_URL = os.environ.get(
    "POTOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus"


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The local PostgreSQL with potok's tables, created once for the whole run."""
    engine = make_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # pragma: no cover - only when the server is absent
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
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
