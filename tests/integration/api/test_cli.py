"""The `potok` CLI: db upgrade, user create, token create — and the tokens it makes work."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api import cli
from api.auth.passwords import verify_password
from engine.db import make_engine
from engine.models import User, UserGroup
from engine.settings import get_settings
from tests.integration.api.helpers import PASSWORD, assert_error

runner = CliRunner()


@pytest.fixture
def cli_db(
    monkeypatch: pytest.MonkeyPatch, session_factory: sessionmaker[Session]
) -> sessionmaker[Session]:
    """Point the CLI at the test database."""
    monkeypatch.setattr(cli, "session_factory", lambda: session_factory)
    return session_factory


def _create_user(*extra: str) -> None:
    args = ["user", "create", "anna", "--password", PASSWORD, *extra]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "user anna created" in result.output


def test_user_create_hashes_password_and_keeps_roles(cli_db: sessionmaker[Session]) -> None:
    """Repeatable --group/--role options are stored; the password only as an argon2 hash."""
    _create_user("-g", "warehouse", "-g", "pickers", "-r", "warehouse", "-r", "manager")
    with cli_db() as session:
        user = session.scalars(select(User).where(User.username == "anna")).one()
        groups = set(session.scalars(select(UserGroup.name)))
    assert user.roles == ["manager", "warehouse"] and user.groups == ["pickers", "warehouse"]
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, PASSWORD)
    assert {"pickers", "warehouse"} <= groups


def test_user_create_refuses_unknown_role(cli_db: sessionmaker[Session]) -> None:
    """A typo in a role is an error, not a silent useless role."""
    result = runner.invoke(cli.app, ["user", "create", "x", "--password", "p", "-r", "boss"])
    assert result.exit_code == 1
    assert "unknown roles: boss" in result.output


def test_user_create_refuses_duplicate(cli_db: sessionmaker[Session]) -> None:
    """The same name twice is refused."""
    _create_user()
    result = runner.invoke(cli.app, ["user", "create", "anna", "--password", "p"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_token_create_prints_working_token(
    cli_db: sessionmaker[Session], probe_client: TestClient
) -> None:
    """The printed token authenticates and carries exactly the given scopes."""
    _create_user("-r", "manager")
    result = runner.invoke(cli.app, ["token", "create", "--user", "anna", "--scope", "tasks"])
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {result.output.strip()}"}
    me = probe_client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["scopes"] == ["tasks"]
    assert probe_client.get("/api/probe/scoped", headers=headers).status_code == 200


def test_token_create_refuses_scope_beyond_roles(cli_db: sessionmaker[Session]) -> None:
    """A manager cannot be given a deploy token."""
    _create_user("-r", "manager")
    args = ["token", "create", "--user", "anna", "--scope", "definitions:deploy"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 1 and "do not allow: definitions:deploy" in result.output


def test_token_create_unknown_user(cli_db: sessionmaker[Session]) -> None:
    """An unknown user is an error."""
    result = runner.invoke(cli.app, ["token", "create", "--user", "ghost", "--scope", "tasks"])
    assert result.exit_code == 1 and "no user 'ghost'" in result.output


def test_token_expiring_in_days_works(cli_db: sessionmaker[Session], client: TestClient) -> None:
    """--days sets an expiry; the token works until then."""
    _create_user("-r", "analyst")
    args = ["token", "create", "-u", "anna", "-s", "read", "--days", "30"]
    token = runner.invoke(cli.app, args).output.strip()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "anna"
    forged = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}x"})
    assert_error(forged, 401, "unauthorized")


def test_db_upgrade_creates_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`potok db upgrade` runs the migrations on the configured database."""
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    monkeypatch.setenv("POTOK_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli.app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "database upgraded to head" in result.output
    engine = make_engine(url)
    assert {"user_account", "api_token", "idempotency_key"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
