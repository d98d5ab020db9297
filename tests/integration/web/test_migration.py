"""Migration 0003 creates the queue-policy tables as the models describe them, and drops them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from engine.db import make_engine
from engine.migrate import alembic_config, upgrade
from engine.queues import QueueClaim, QueuePolicy, UserPresence

MODELS = (QueuePolicy, QueueClaim, UserPresence)


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


def test_upgrade_creates_the_tables_of_the_models(url: str) -> None:
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        for model in MODELS:
            table = model.__table__
            columns = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, column
            primary = inspector.get_pk_constraint(table.name)["constrained_columns"]
            assert primary == [c.name for c in table.primary_key.columns]
        with engine.begin() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0003"
    finally:
        engine.dispose()


def test_downgrade_removes_them(url: str) -> None:
    upgrade(url, "0003")
    command.downgrade(alembic_config(url), "0002")
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        assert not names & {m.__tablename__ for m in MODELS}
        assert "human_task" in names
    finally:
        engine.dispose()
