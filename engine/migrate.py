"""Run Alembic migrations programmatically (CLI `potok db upgrade`, `make run`, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from engine.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    """An Alembic config bound to `database_url`, independent of the working directory."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
