"""Idempotency-Key: replay the first answer, refuse another body, never create twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.models import IdempotencyRecord, UserGroup
from tests.integration.api.helpers import TestUser, assert_error

URL = "/api/probe/groups"


def _post(
    client: TestClient, user: TestUser, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(URL, json=body, headers=headers)


def _group_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(UserGroup)) or 0


def test_repeat_replays_first_response(
    probe_client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """Same key and body: the same status and JSON, and only one group exists."""
    before = _group_count(session_factory)
    first = _post(probe_client, manager, {"name": "pickers", "title": "Pickers"}, "k-1")
    again = _post(probe_client, manager, {"title": "Pickers", "name": "pickers"}, "k-1")
    assert first.status_code == 201 and first.json() == {"name": "pickers", "title": "Pickers"}
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _group_count(session_factory) == before + 1


def test_same_key_other_body_is_422(probe_client: TestClient, manager: TestUser) -> None:
    """Reusing a key for a different request is refused, and nothing is created."""
    assert _post(probe_client, manager, {"name": "a"}, "k-2").status_code == 201
    response = _post(probe_client, manager, {"name": "b"}, "k-2")
    assert_error(response, 422, "idempotency_key_reused")
    assert _post(probe_client, manager, {"name": "b"}, None).status_code == 201


def test_without_key_each_post_runs(probe_client: TestClient, manager: TestUser) -> None:
    """No key, no replay: the second identical POST runs (and conflicts here)."""
    assert _post(probe_client, manager, {"name": "c"}, None).status_code == 201
    assert_error(_post(probe_client, manager, {"name": "c"}, None), 409, "group_exists")


def test_keys_are_scoped_per_user(
    probe_client: TestClient, manager: TestUser, admin: TestUser
) -> None:
    """Another caller's identical key is a different key."""
    assert _post(probe_client, manager, {"name": "d"}, "shared").status_code == 201
    other = _post(probe_client, admin, {"name": "e"}, "shared")
    assert other.status_code == 201 and other.json() == {"name": "e", "title": ""}


def test_failed_request_frees_the_key(
    probe_client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """An error is not stored: after fixing the cause, the same key and body run."""
    with session_factory.begin() as session:
        session.add(UserGroup(name="dup", title="already here"))
    assert_error(_post(probe_client, manager, {"name": "dup"}, "k-3"), 409, "group_exists")
    with session_factory.begin() as session:
        session.delete(session.get(UserGroup, "dup"))
    retry = _post(probe_client, manager, {"name": "dup"}, "k-3")
    assert retry.status_code == 201 and retry.json() == {"name": "dup", "title": ""}


def test_key_longer_than_255_is_422(probe_client: TestClient, manager: TestUser) -> None:
    """The header is validated like any other input."""
    error = assert_error(
        _post(probe_client, manager, {"name": "f"}, "x" * 256), 422, "validation_error"
    )
    assert error["details"][0]["loc"] == ["header", "Idempotency-Key"]


def test_concurrent_twins_create_once(
    probe_client: TestClient, manager: TestUser, session_factory: sessionmaker[Session]
) -> None:
    """Eight simultaneous requests with one key: one creation; the rest replay it or get 409."""
    before = _group_count(session_factory)
    body = {"name": "racers", "title": "Race", "delay": 0.3}
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: _post(probe_client, manager, body, "race"), range(8)))
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 409]
    assert len(created) + len(refused) == 8, [r.text for r in responses]
    assert created and all(r.json() == {"name": "racers", "title": "Race"} for r in created)
    for response in refused:
        assert_error(response, 409, "request_in_progress")
    assert _group_count(session_factory) == before + 1
    with session_factory() as session:
        record = session.scalars(select(IdempotencyRecord)).one()
    assert record.status_code == 201 and record.response == {"name": "racers", "title": "Race"}


def test_replay_after_concurrency_settles(probe_client: TestClient, manager: TestUser) -> None:
    """Once the winner finished, a late twin gets the stored answer."""
    body = {"name": "late", "delay": 0.0}
    first = _post(probe_client, manager, body, "late-key")
    late = _post(probe_client, manager, body, "late-key")
    assert (first.status_code, late.status_code) == (201, 201)
    assert late.json() == first.json() == {"name": "late", "title": ""}
