"""A scripted vendor behind `httpx.MockTransport`, and a handler context that uses it.

`vendor.on("POST", "/entity/customerorder", {...})` answers a route (the longest matching
path suffix wins); `vendor.fail(503)` makes every later call fail with that status (the
failing fake); `vendor.sent("POST", "/entity/customerorder")` gives the JSON bodies sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.sandbox_store import SandboxBase, SandboxStore
from engine.db import make_engine, make_session_factory
from engine.operators import HandlerContext
from handlers.clients import Clients
from handlers.ledger import LoyaltyLedger
from handlers.settings import HandlerSettings

Answer = Any | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeVendor:
    """Every external system at once: routes by method and path suffix."""

    routes: dict[tuple[str, str], Answer] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    failure: tuple[int, Any] | None = None

    def on(self, method: str, suffix: str, answer: Answer, status: int = 200) -> None:
        """Answer `method` on paths ending with `suffix` with JSON `answer` (or call it)."""
        if callable(answer):
            self.routes[(method, suffix)] = answer
        else:
            self.routes[(method, suffix)] = lambda _r: httpx.Response(status, json=answer)

    def fail(self, status: int, body: Any = None) -> None:
        """Every call from now on answers `status` (the vendor is down or refuses)."""
        self.failure = (status, body if body is not None else {"error": f"HTTP {status}"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure is not None:
            return httpx.Response(self.failure[0], json=self.failure[1])
        path = request.url.path
        matches = [
            (len(suffix), answer)
            for (method, suffix), answer in self.routes.items()
            if method == request.method and path.endswith(suffix)
        ]
        if not matches:
            return httpx.Response(404, json={"error": f"no route for {request.method} {path}"})
        answer = max(matches, key=lambda match: match[0])[1]
        response: httpx.Response = answer(request)
        return response

    def calls(self, method: str, suffix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.endswith(suffix)]

    def sent(self, method: str, suffix: str) -> list[Any]:
        """JSON bodies (or form fields) of the calls to one route, in order."""
        bodies = []
        for request in self.calls(method, suffix):
            raw = request.content.decode()
            content_type = request.headers.get("content-type", "")
            bodies.append(
                dict(parse_qsl(raw)) if "form-urlencoded" in content_type else json.loads(raw)
            )
        return bodies


@pytest.fixture
def vendor() -> FakeVendor:
    return FakeVendor()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[LoyaltyLedger]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    SandboxBase.metadata.create_all(engine)
    yield LoyaltyLedger(SandboxStore(make_session_factory(engine)))
    engine.dispose()


@pytest.fixture
def clients(vendor: FakeVendor, ledger: LoyaltyLedger) -> Iterator[Clients]:
    settings = HandlerSettings(_env_file=None)  # type: ignore[call-arg]
    built = Clients(settings, transport=httpx.MockTransport(vendor), ledger=ledger)
    yield built
    built.close()


def context(clients: Clients, task: str = "task-1") -> HandlerContext:
    """A job's context whose clients are the mocked ones."""
    return HandlerContext(
        instance_id="inst-1",
        task_guid=task,
        element_id="element",
        idempotency_key=f"inst-1:{task}",
        services={"clients": clients},
    )


@pytest.fixture
def ctx(clients: Clients) -> HandlerContext:
    return context(clients)
