"""Fixtures for web UI tests: the real app on each real database, signed-in browsers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth.service import create_user, get_user_or_raise, issue_token
from engine import service
from engine.db import session_scope
from engine.models import HumanTask
from engine.settings import Settings

PASSWORD = "correct horse battery staple"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHOWCASE = ("showcase.bpmn", "showcase-schema.json", "showcase-uischema.json")
PAYMENT = ("payment.bpmn",)
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Browser:
    """A signed-in person: their own cookie jar, and the CSRF token of their session."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.username = username
        self.token = ""

    def login(self, password: str = PASSWORD) -> httpx.Response:
        page = self.client.get("/login")
        self.token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        response = self.client.post(
            "/login",
            data={"username": self.username, "password": password, "csrf_token": self.token},
            follow_redirects=False,
        )
        if response.status_code == 303:
            self.refresh_token()
        return response

    def refresh_token(self) -> str:
        page = self.client.get("/me")
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        self.token = found.group(1)
        return self.token

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(
        self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.token)
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(url, data=body, **kwargs)


@pytest.fixture
def settings() -> Settings:
    return Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings=settings, session_factory=session_factory)


MakeUser = Callable[..., str]


@pytest.fixture
def make_user(session_factory: sessionmaker[Session]) -> MakeUser:
    """Create a user with PASSWORD; returns the username."""

    def make(
        username: str,
        *,
        roles: tuple[str, ...] = ("manager",),
        groups: tuple[str, ...] = ("managers",),
        display_name: str = "",
    ) -> str:
        with session_scope(session_factory) as session:
            create_user(
                session,
                username=username,
                password=PASSWORD,
                roles=roles,
                groups=groups,
                display_name=display_name,
            )
        return username

    return make


@pytest.fixture
def api_token(session_factory: sessionmaker[Session]) -> Callable[[str], dict[str, str]]:
    """Bearer headers of a user (for the REST API side of the same checks)."""

    def headers(username: str) -> dict[str, str]:
        with session_scope(session_factory) as session:
            user = get_user_or_raise(session, username=username)
            issued = issue_token(session, user=user, name="test")
        return {"Authorization": f"Bearer {issued.token}"}

    return headers


OpenBrowser = Callable[[str], Browser]


@pytest.fixture
def browser(app: FastAPI) -> Iterator[OpenBrowser]:
    """Open a signed-in browser (its own TestClient) for a user."""
    clients: list[TestClient] = []

    def open_browser(username: str) -> Browser:
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        person = Browser(client, username)
        assert person.login().status_code == 303
        return person

    yield open_browser
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for the REST API side (bearer tokens, no cookies needed)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def deployed(session_factory: sessionmaker[Session]) -> None:
    """The showcase (managers) and payment (accountants) processes, deployed."""
    files = [(name, (FIXTURES / name).read_bytes()) for name in (*SHOWCASE, *PAYMENT)]
    with session_scope(session_factory) as session:
        service.deploy(session, files=files, deployed_by="tests")


StartTask = Callable[..., str]


@pytest.fixture
def start_task(session_factory: sessionmaker[Session], deployed: None) -> StartTask:
    """Start an instance and return the id of its open task."""

    def start(key: str = "showcase", business_key: str | None = None, **variables: Any) -> str:
        with session_scope(session_factory) as session:
            instance = service.start_instance(
                session, key=key, variables=variables, business_key=business_key
            )
            task = session.query(HumanTask).filter_by(instance_id=instance.id).one()
            return task.id

    return start


def order(**overrides: Any) -> dict[str, Any]:
    """Start variables of a showcase order."""
    values: dict[str, Any] = {
        "order_number": "A-1042",
        "customer_name": "Анна Смирнова",
        "customer_phone": "+7 (916) 123-45-67",
        "quantity": 2,
        "amount": "4980.00",
    }
    return values | overrides


def valid_form(**overrides: Any) -> dict[str, Any]:
    """A complete, valid submission of the showcase form."""
    values: dict[str, Any] = {
        "customer_name": "Анна Смирнова",
        "customer_phone": "+7 916 123-45-67",
        "quantity": "3",
        "weight": "1,5",
        "amount": "4 980,00",
        "delivery_date": "2026-12-24",
        "delivery": "courier",
        "comment": "Позвонить за час",
    }
    return values | overrides
