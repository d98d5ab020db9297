"""Fixtures for API tests: the real app on each real database, users and their tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth.service import create_user, get_user_or_raise, issue_token
from engine import service
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


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REVIEW_FILES = ("review.bpmn", "review-schema.json", "review-uischema.json")


def fixture_files(*names: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of files in tests/fixtures, as an upload carries them."""
    return [(name, (FIXTURES / name).read_bytes()) for name in names]


def multipart(*names: str) -> list[tuple[str, tuple[str, bytes]]]:
    """The `files` multipart fields of fixture files, for TestClient(files=...)."""
    return [("files", (name, content)) for name, content in fixture_files(*names)]


def review_v2_files() -> list[tuple[str, bytes]]:
    """review.bpmn with a changed form: a new content hash, so a new version."""
    files = fixture_files(*REVIEW_FILES)
    files[1] = (files[1][0], files[1][1].replace(b"500", b"400"))
    return files


Deploy = Callable[..., None]


@pytest.fixture
def deploy(session_factory: sessionmaker[Session]) -> Deploy:
    """Deploy fixture files (by name, or as (name, bytes) pairs) through the engine, committed."""

    def _deploy(*names: str, files: list[tuple[str, bytes]] | None = None) -> None:
        with session_scope(session_factory) as session:
            upload = files if files is not None else fixture_files(*names)
            service.deploy(session, files=upload, deployed_by="tests")

    return _deploy


@pytest.fixture
def analyst(make_user: MakeUser) -> TestUser:
    return make_user("anna", roles=("analyst",), groups=("analysts",))


@pytest.fixture
def reviewer(make_user: MakeUser) -> TestUser:
    """A manager in the `managers` group, the lane of review.bpmn's user task."""
    return make_user("maria", roles=("manager",), groups=("managers",))


@pytest.fixture
def outsider(make_user: MakeUser) -> TestUser:
    """A warehouse worker: may work on tasks, but not on the managers' ones."""
    return make_user("petr", roles=("warehouse",), groups=("warehouse",))
