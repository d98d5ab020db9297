"""Fixtures for API tests: the real app on each real database, users and their tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth.service import create_user, get_user_or_raise, issue_token
from engine.db import session_scope
from engine.settings import Settings
from tests.integration.api.helpers import PASSWORD, TestUser


@pytest.fixture
def settings() -> Settings:
    """Test settings: embedded broker, no .env file."""
    return Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings=settings, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


MakeUser = Callable[..., TestUser]


@pytest.fixture
def make_user(session_factory: sessionmaker[Session]) -> MakeUser:
    """Create a user (password PASSWORD) and a token; scopes default to the roles' scopes."""

    def make(
        username: str = "olga",
        *,
        roles: tuple[str, ...] = ("manager",),
        groups: tuple[str, ...] = ("sales",),
        scopes: tuple[str, ...] | None = None,
        ttl: timedelta | None = timedelta(hours=1),
    ) -> TestUser:
        with session_scope(session_factory) as session:
            create_user(session, username=username, password=PASSWORD, roles=roles, groups=groups)
            user = get_user_or_raise(session, username=username)
            issued = issue_token(session, user=user, scopes=scopes, ttl=ttl, name="test")
        return TestUser(username=username, token=issued.token)

    return make


@pytest.fixture
def admin(make_user: MakeUser) -> TestUser:
    return make_user("admin", roles=("admin",), groups=("admins",))


@pytest.fixture
def manager(make_user: MakeUser) -> TestUser:
    return make_user("olga", roles=("manager",), groups=("sales",))


@pytest.fixture
def probe_client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app plus the test-only probe routes; server errors become 500s."""
    from tests.integration.api.probe import router

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
