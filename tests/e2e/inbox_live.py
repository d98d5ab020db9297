"""A real potok server for the inbox browser tests: uvicorn in a thread, a real database.

The database is a migrated SQLite file (alembic upgrade head, so migration 0003 is exercised
too) or the run's private PostgreSQL database. The tests start process instances through
`engine.service` on the same database while the pages are open, as a worker would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
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

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "integration" / "web" / "fixtures"
DIST = ROOT / "api" / "web" / "static" / "dist"
FRONTEND = ROOT / "api" / "web" / "frontend"
PASSWORD = "inbox password 42"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def ensure_bundles() -> None:
    """Build the front-end bundles when they are missing or older than their sources."""
    bundles = [DIST / "htmx.entry.js", DIST / "inbox.entry.js"]
    newest = max(p.stat().st_mtime for p in FRONTEND.iterdir() if p.is_file())
    if all(b.exists() and b.stat().st_mtime >= newest for b in bundles):
        return
    if not (ROOT / "node_modules" / "htmx.org").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT, check=True)


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="potok-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", factory=factory)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
