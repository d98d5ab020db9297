"""Alembic environment: the URL comes from potok's settings unless the caller set one."""

from alembic import context
from sqlalchemy import pool

from connectors.sandbox_store import SandboxBase
from engine.db import make_engine
from engine.models import Base
from engine.queues import QueuePolicy  # noqa: F401  (its tables live on Base's metadata)
from engine.settings import get_settings

config = context.config
# The sandbox doubles keep their own metadata (connectors import nothing of engine).
target_metadata = [Base.metadata, SandboxBase.metadata]


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # render_as_batch lets ALTER TABLE work on SQLite.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
