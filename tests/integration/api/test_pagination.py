"""Cursor pagination: limit bounds, walking pages, forged cursors."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.models import UserGroup
from tests.integration.api.helpers import TestUser, assert_error

URL = "/api/probe/groups"


def _seed(factory: sessionmaker[Session], count: int) -> list[str]:
    names = [f"g{i:02d}" for i in range(count)]
    with factory.begin() as session:
        session.add_all(UserGroup(name=name, title="") for name in names)
    return names


def test_walks_all_pages_without_gaps(
    probe_client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """Following next_cursor visits every row once, then next_cursor is null."""
    _seed(session_factory, 7)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        response = probe_client.get(URL, params=params, headers=manager.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= 3
        seen += [item["name"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # The fixture user's own group ("sales") is a row too.
    assert seen == sorted([f"g{i:02d}" for i in range(7)] + ["sales"])
    assert pages == 3


def test_default_limit_is_50(
    probe_client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """Without limit, a page has at most 50 items."""
    _seed(session_factory, 60)
    body = probe_client.get(URL, headers=manager.headers).json()
    assert len(body["items"]) == 50 and body["next_cursor"] is not None


def test_limit_500_is_allowed(probe_client: TestClient, manager: TestUser) -> None:
    """The maximum limit itself is fine."""
    response = probe_client.get(URL, params={"limit": 500}, headers=manager.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [{"name": "sales", "title": "sales"}], "next_cursor": None}


def test_limit_out_of_range_is_422(probe_client: TestClient, manager: TestUser) -> None:
    """limit 0 and 501 are validation errors naming query.limit."""
    for limit in (0, 501, -1):
        response = probe_client.get(URL, params={"limit": limit}, headers=manager.headers)
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["query", "limit"]


def test_forged_cursor_is_422(probe_client: TestClient, manager: TestUser) -> None:
    """Garbage, wrong arity and wrong types are all 422 invalid_cursor, never a 500."""
    wrong_type = base64.urlsafe_b64encode(b"[1]").decode().rstrip("=")
    wrong_arity = base64.urlsafe_b64encode(b'["a","b"]').decode().rstrip("=")
    for cursor in ("%%%", "bm90IGpzb24", wrong_type, wrong_arity, "W10"):
        response = probe_client.get(URL, params={"cursor": cursor}, headers=manager.headers)
        error = assert_error(response, 422, "invalid_cursor")
        assert error["details"] == [
            {"loc": ["query", "cursor"], "msg": "not a cursor returned by this API"}
        ]
