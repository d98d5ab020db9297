"""Password login, bearer tokens (expiry, revocation), roles and scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.auth.service import hash_token
from engine.models import ApiToken, User
from tests.integration.api.conftest import MakeUser
from tests.integration.api.helpers import PASSWORD, TestUser, assert_error


def _login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/token", json={"username": username, "password": password})


def test_login_returns_bearer_token(client: TestClient, manager: TestUser) -> None:
    """Good credentials give a bearer token that expires after token_ttl_minutes."""
    before = datetime.now(UTC)
    response = _login(client, manager.username)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 40
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires_at - before <= timedelta(hours=12, seconds=5)
    assert body["scopes"] == ["messages:send", "processes:start", "read", "tasks"]


def test_login_token_authenticates(client: TestClient, manager: TestUser) -> None:
    """The token from login identifies the user, with the scopes of their roles."""
    token = _login(client, manager.username).json()["access_token"]
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "username": "olga",
        "roles": ["manager"],
        "groups": ["sales"],
        "scopes": ["messages:send", "processes:start", "read", "tasks"],
    }


def test_login_stores_only_the_token_hash(
    client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """The plain token is never stored; its sha256 is."""
    token = _login(client, manager.username).json()["access_token"]
    with session_factory() as session:
        hashes = set(session.scalars(select(ApiToken.token_hash)))
    assert hash_token(token) in hashes and token not in hashes


def test_login_wrong_password_is_401(client: TestClient, manager: TestUser) -> None:
    """A wrong password is a 401 with the error body."""
    error = assert_error(_login(client, manager.username, "wrong"), 401, "invalid_credentials")
    assert error["message"] == "Wrong username or password"


def test_login_unknown_user_is_the_same_401(client: TestClient) -> None:
    """An unknown user is indistinguishable from a wrong password."""
    error = assert_error(_login(client, "nobody"), 401, "invalid_credentials")
    assert error["message"] == "Wrong username or password"


def test_login_inactive_user_is_401(
    client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """A deactivated user cannot log in."""
    with session_factory.begin() as session:
        session.execute(update(User).values(is_active=False))
    assert_error(_login(client, manager.username), 401, "invalid_credentials")


def test_missing_token_is_401(client: TestClient) -> None:
    """No Authorization header: 401 unauthorized with a Bearer challenge."""
    response = client.get("/api/auth/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_token_is_401(client: TestClient) -> None:
    """A token we never issued is a 401."""
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer forged"})
    assert_error(response, 401, "unauthorized")


def test_non_bearer_scheme_is_401(client: TestClient, manager: TestUser) -> None:
    """Basic auth is not accepted, even with a valid token inside."""
    response = client.get("/api/auth/me", headers={"Authorization": f"Basic {manager.token}"})
    assert_error(response, 401, "unauthorized")


def test_expired_token_is_401(client: TestClient, make_user: MakeUser) -> None:
    """A token past its expires_at no longer works."""
    user = make_user("late", ttl=timedelta(seconds=-1))
    error = assert_error(client.get("/api/auth/me", headers=user.headers), 401, "unauthorized")
    assert "expired" in error["message"]


def test_revoked_token_is_401(
    client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """A revoked token no longer works."""
    with session_factory.begin() as session:
        session.execute(update(ApiToken).values(revoked=True))
    assert_error(client.get("/api/auth/me", headers=manager.headers), 401, "unauthorized")


def test_integration_token_with_scope_passes(probe_client: TestClient, make_user: MakeUser) -> None:
    """A token created with the `tasks` scope may call a `tasks` route."""
    user = make_user("bot", roles=("manager",), scopes=("tasks",), ttl=None)
    response = probe_client.get("/api/probe/scoped", headers=user.headers)
    assert response.status_code == 200 and response.json() == {"username": "bot"}


def test_integration_token_without_scope_is_403(
    probe_client: TestClient, make_user: MakeUser
) -> None:
    """A token without the route's scope is a 403, even though the user's roles allow it."""
    user = make_user("bot", roles=("manager",), scopes=("messages:send",), ttl=None)
    error = assert_error(
        probe_client.get("/api/probe/scoped", headers=user.headers), 403, "forbidden"
    )
    assert "tasks" in error["message"]


def test_token_scope_is_capped_by_current_roles(
    probe_client: TestClient, make_user: MakeUser, session_factory: sessionmaker[Session]
) -> None:
    """A user who lost the role that allowed a scope loses it on existing tokens too."""
    user = make_user("bot", roles=("manager",), scopes=("tasks",), ttl=None)
    with session_factory.begin() as session:
        session.execute(update(User).values(roles=["analyst"]))
    assert_error(probe_client.get("/api/probe/scoped", headers=user.headers), 403, "forbidden")


def test_admin_wildcard_scope_passes(probe_client: TestClient, admin: TestUser) -> None:
    """An admin's login-style token carries `*`, which grants every scope."""
    response = probe_client.get("/api/probe/scoped", headers=admin.headers)
    assert response.status_code == 200 and response.json() == {"username": "admin"}


def test_require_role_refuses_other_roles(probe_client: TestClient, manager: TestUser) -> None:
    """A manager may not use an accountant-only route."""
    error = assert_error(
        probe_client.get("/api/probe/role", headers=manager.headers), 403, "forbidden"
    )
    assert "accountant" in error["message"]


def test_require_role_lets_role_and_admin_through(
    probe_client: TestClient, make_user: MakeUser, admin: TestUser
) -> None:
    """The role itself and admins pass a role check."""
    accountant = make_user("vera", roles=("accountant",), groups=("finance",))
    for user in (accountant, admin):
        response = probe_client.get("/api/probe/role", headers=user.headers)
        assert response.status_code == 200 and response.json() == {"username": user.username}
