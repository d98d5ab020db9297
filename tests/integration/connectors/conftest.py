"""All sandbox doubles in one real uvicorn server on a free port, on SQLite and PostgreSQL.

The server is started once per database kind (session scope); every test starts from an
empty sandbox. A small receiver app on the same server records the notifications the doubles
emit (YooKassa, WhatsApp, Telegram, CDEK, MoySklad webhooks).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from connectors.base import SANDBOX_ROOT, ConnectorConfig
from connectors.sandbox_kit import SandboxSettings
from connectors.sandbox_store import SandboxBase, SandboxStore
from connectors.sandboxes import mount_sandboxes
from engine.db import make_engine, make_session_factory

ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)
TIMEOUT_DELAY = 1.0  # the double's "timeout" sleep; clients in tests read for 0.5 s


@dataclass
class Received:
    name: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sandbox:
    """The running doubles: their root URL, their store, and what they emitted to us."""

    root: str
    store: SandboxStore
    received: list[Received] = field(default_factory=list)
    receiver_status: dict[str, int] = field(default_factory=dict)

    def config(self, config: ConfigT, **changes: Any) -> ConfigT:
        """`config` pointed at this server instead of the default port."""
        base_url = config.base_url.replace(SANDBOX_ROOT, self.root)
        return config.model_copy(update={"base_url": base_url, **changes})

    def receiver(self, name: str) -> str:
        """A URL whose deliveries land in `received` under `name`."""
        return f"{self.root.removesuffix('/sandbox')}/receiver/{name}"

    def control(self, system: str, action: str, payload: Any = None) -> Any:
        response = httpx.post(f"{self.root}/{system}/_control/{action}", json=payload or {})
        response.raise_for_status()
        return response.json()

    def state(self, system: str) -> dict[str, Any]:
        response = httpx.get(f"{self.root}/{system}/_control/state")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def records(self, system: str, kind: str) -> list[dict[str, Any]]:
        return self.state(system)["records"].get(kind, [])  # type: ignore[no-any-return]

    def wait_received(self, name: str, count: int = 1, seconds: float = 5.0) -> list[Received]:
        """Deliveries to receiver `name`, waiting for background senders."""
        deadline = time.monotonic() + seconds
        while True:
            got = [item for item in self.received if item.name == name]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


def _receiver_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI()

    @app.api_route("/receiver/{name}", methods=["POST", "GET"])
    async def receive(name: str, request: Request) -> Any:
        item = Received(
            name, dict(request.query_params), dict(request.headers), await request.body()
        )
        sandbox.received.append(item)
        return JSONResponse({"ok": True}, status_code=sandbox.receiver_status.get(name, 200))

    return app


def _engine(kind: str, request: pytest.FixtureRequest, tmp: Path) -> Engine:
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp / 'sandbox.sqlite3'}")
    engine: Engine = request.getfixturevalue("pg_engine")
    return engine


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def sandbox_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    engine = _engine(request.param, request, tmp_path_factory.mktemp("sandbox"))
    SandboxBase.metadata.create_all(engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    root = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox = Sandbox(root=f"{root}/sandbox", store=SandboxStore(make_session_factory(engine)))
    settings = SandboxSettings(
        timeout_delay=TIMEOUT_DELAY,
        retry_after=2.0,
        webhook_url=sandbox.receiver("default"),
        webhook_timeout=2.0,
    )
    app = _receiver_app(sandbox)
    mount_sandboxes(app, sandbox.store, settings=settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield sandbox
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    if request.param == "sqlite":
        engine.dispose()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The running doubles, emptied for this test."""
    sandbox_server.store.reset()
    sandbox_server.received.clear()
    sandbox_server.receiver_status.clear()
    return sandbox_server
