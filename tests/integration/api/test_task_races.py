"""Races over real HTTP: 50 clients claim (or complete) one task — exactly one wins."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.auth.passwords import hash_password
from api.auth.service import issue_token
from engine.db import session_scope
from engine.models import User
from tests.integration.api.conftest import REVIEW_FILES, Deploy
from tests.integration.api.helpers import TestUser

CLIENTS = 50


@pytest.fixture
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def managers(session_factory: sessionmaker[Session]) -> list[TestUser]:
    """CLIENTS distinct managers of the `managers` group (one hash shared to save time)."""
    password_hash = hash_password("unused")
    users: list[TestUser] = []
    with session_scope(session_factory) as session:
        for i in range(CLIENTS):
            user = User(
                username=f"m{i:02d}",
                password_hash=password_hash,
                roles=["manager"],
                groups=["managers"],
            )
            session.add(user)
            session.flush()
            users.append(TestUser(user.username, issue_token(session, user=user).token))
    return users


@pytest.fixture
def task_url(live_url: str, deploy: Deploy, managers: list[TestUser]) -> str:
    """The URL of a fresh open, unassigned review task."""
    deploy(*REVIEW_FILES)
    with httpx.Client(base_url=live_url, headers=managers[0].headers) as client:
        started = client.post("/api/processes/review/instances", json={"variables": {"amount": 1}})
        assert started.status_code == 201, started.text
        tasks = client.get("/api/tasks", params={"instance_id": started.json()["id"]})
    return f"{live_url}/api/tasks/{tasks.json()['items'][0]['id']}"


def _race(
    url: str, users: list[TestUser], json: Mapping[str, object] | None
) -> list[httpx.Response]:
    """POST to `url` as every user at once (a barrier lines them up)."""
    barrier = threading.Barrier(len(users))

    def post(user: TestUser) -> httpx.Response:
        with httpx.Client(headers=user.headers, timeout=60) as client:
            barrier.wait()
            return client.post(url, json=json)

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        return list(pool.map(post, users))


def _outcome(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    return Counter(
        (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None)
        for r in responses
    )


def test_claim_race_has_one_winner(task_url: str, managers: list[TestUser]) -> None:
    """One 200 and 49 × 409 task_already_claimed; the winner is the assignee."""
    responses = _race(f"{task_url}/claim", managers, None)
    assert _outcome(responses) == {(200, None): 1, (409, "task_already_claimed"): CLIENTS - 1}
    [winner] = [r for r in responses if r.status_code == 200]
    with httpx.Client(headers=managers[0].headers) as client:
        assert client.get(task_url).json()["assignee"] == winner.json()["assignee"]


def test_complete_race_has_one_winner(task_url: str, managers: list[TestUser]) -> None:
    """One 200 and 49 × 409 task_already_completed; the instance completed once."""
    data = {"data": {"decision": "approve", "size": 40}}
    responses = _race(f"{task_url}/complete", managers, data)
    assert _outcome(responses) == {(200, None): 1, (409, "task_already_completed"): CLIENTS - 1}
    [winner] = [r for r in responses if r.status_code == 200]
    assert winner.json()["instance"]["status"] == "completed"
