"""A real potok server for the inbox browser tests: uvicorn in a thread, a real database.

The database is a migrated SQLite file (alembic upgrade head, so migration 0003 is exercised
too) or the run's private PostgreSQL database. The tests start process instances through
`engine.service` on the same database while the pages are open, as a worker would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import engine.service  # noqa: F401 - imports every model module (queue tables included)
from api.app import create_app
from api.auth.service import create_user
from engine import service
from engine.db import make_engine, make_session_factory, session_scope
from engine.migrate import upgrade
from engine.models import Base, HumanTask
from engine.settings import Settings
from tests.live_server import ROOT, serve
from tests.live_server import ensure_bundles as build_bundles

FIXTURES = ROOT / "tests" / "integration" / "web" / "fixtures"
PASSWORD = "inbox password 42"


def ensure_bundles() -> None:
    """Build the inbox's front-end bundles when they are missing or stale."""
    build_bundles("htmx.entry.js", "inbox.entry.js", node_module="htmx.org")


@dataclass
class LiveServer:
    """A running server on a real database."""

    url: str
    factory: sessionmaker[Session]

    def user(
        self,
        username: str,
        *,
        roles: tuple[str, ...],
        groups: tuple[str, ...],
        display_name: str = "",
    ) -> None:
        with session_scope(self.factory) as session:
            create_user(
                session,
                username=username,
                password=PASSWORD,
                roles=roles,
                groups=groups,
                display_name=display_name,
            )

    def deploy(self, *names: str) -> None:
        files = [(name, (FIXTURES / name).read_bytes()) for name in names]
        with session_scope(self.factory) as session:
            service.deploy(session, files=files, deployed_by="tests")

    def start(
        self, key: str = "showcase", business_key: str | None = None, **variables: Any
    ) -> str:
        """Start an instance (as a worker or the API would) and return its open task's id."""
        with session_scope(self.factory) as session:
            instance = service.start_instance(
                session, key=key, variables=variables, business_key=business_key
            )
            task = session.query(HumanTask).filter_by(instance_id=instance.id).one()
            return task.id

    def task(self, task_id: str) -> HumanTask:
        with session_scope(self.factory) as session:
            found = session.get(HumanTask, task_id)
            assert found is not None
            session.expunge(found)
            return found


def sqlite_engine(directory: Path) -> Engine:
    """A fresh SQLite file brought to the latest migration."""
    url = f"sqlite:///{directory / 'potok.sqlite3'}"
    upgrade(url)
    return make_engine(url)


def clean_postgres(engine: Engine) -> Engine:
    """The run's private PostgreSQL database with every table, emptied."""
    Base.metadata.create_all(engine)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return engine


@contextmanager
def live_server(db: Engine) -> Iterator[LiveServer]:
    """Serve the real app on `db` from a thread until the block ends."""
    factory = make_session_factory(db)
    settings = Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings=settings, session_factory=factory)
    with serve(app, timeout_graceful_shutdown=1) as url:
        yield LiveServer(url=url, factory=factory)
