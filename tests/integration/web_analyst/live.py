"""A real potok server for browser tests: uvicorn in a thread on a free 127.0.0.1 port.

Used by tests/e2e/test_analyst_*.py (headless Chromium) and handy by hand:
`python -m tests.integration.web_analyst.live` serves a seeded workspace until Ctrl+C.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

import engine.service  # noqa: F401 - every model module, so create_all makes every table
from api.app import create_app
from api.auth.service import create_user, get_user_or_raise, issue_token
from engine.db import make_engine, make_session_factory, session_scope
from engine.jobs import install_job_dispatch, run_job
from engine.models import Base
from engine.operators import OPERATORS
from engine.settings import Settings
from tests.live_server import ensure_bundles as build_bundles
from tests.live_server import serve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "analyst password 42"


def ensure_bundles() -> None:
    """Build the analyst's front-end bundles when they are missing or stale."""
    build_bundles("modeler.entry.js", "viewer.entry.js", "htmx.entry.js", node_module="bpmn-js")


# --- operators the scenarios use ------------------------------------------------------------


@dataclass
class FlakyCharge:
    """The state of `shop.charge`: it fails permanently while `broken` is set (a bank's 4xx)."""

    broken: bool = True
    calls: list[dict[str, Any]] = field(default_factory=list)

    def operator(self) -> Callable[..., dict[str, Any]]:
        """The handler function registered as `shop.charge`."""

        def charge(ctx: Any, amount: str, order_id: str | None = None) -> dict[str, Any]:
            """Charge the customer's card for the order."""
            self.calls.append({"amount": amount, "order_id": order_id, "attempt": ctx.attempt})
            if self.broken:
                raise ValueError("card declined by the bank (test)")
            return {"charged": amount}

        return charge


def notify(text: str, channel: str = "sms") -> dict[str, Any]:
    """Send a text to the customer by SMS or a messenger."""
    return {"sent": text, "channel": channel}


def register_operators(flaky: FlakyCharge) -> Callable[[], None]:
    """Register the scenario operators; returns the undo."""
    OPERATORS.register("shop.charge", max_attempts=1, backoff_base=1.0)(flaky.operator())
    OPERATORS.register("shop.notify", inline=True)(notify)

    def undo() -> None:
        OPERATORS.unregister("shop.charge")
        OPERATORS.unregister("shop.notify")

    return undo


# --- the server -----------------------------------------------------------------------------


@dataclass
class LiveServer:
    """A running server and what the tests need around it."""

    url: str
    factory: sessionmaker[Session]
    flaky: FlakyCharge
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, username: str = "anna") -> httpx.Client:
        """A REST client with the user's bearer token."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[username]}"},
            timeout=30,
        )

    def deploy(self, *names: str, username: str = "anna") -> httpx.Response:
        """Deploy fixture files through the REST API."""
        files = [("files", (n, (FIXTURES / n).read_bytes())) for n in names]
        with self.api(username) as client:
            return client.post("/api/definitions", files=files)


def _dispatcher(factory: sessionmaker[Session]) -> Callable[[int], None]:
    """After commit, run each new job in a thread: the embedded worker, in miniature."""

    def send(job_id: int) -> None:
        def work() -> None:
            time.sleep(0.3)  # let the page see "running" first
            run_job(factory, job_id, lease_seconds=30)

        threading.Thread(target=work, daemon=True).start()

    return send


def _seed_users(factory: sessionmaker[Session]) -> dict[str, str]:
    people = {
        "anna": (("analyst",), ("analysts",), "Анна Аналитик"),
        "olga": (("manager",), ("managers",), "Ольга Менеджер"),
        "root": (("admin",), ("admins",), "Администратор"),
    }
    tokens: dict[str, str] = {}
    with session_scope(factory) as session:
        for username, (roles, groups, display) in people.items():
            create_user(
                session,
                username=username,
                password=PASSWORD,
                roles=roles,
                groups=groups,
                display_name=display,
            )
            user = get_user_or_raise(session, username=username)
            tokens[username] = issue_token(session, user=user, name="e2e").token
    return tokens


@contextmanager
def live_server(database: Path) -> Iterator[LiveServer]:
    """Serve potok on a fresh SQLite file until the block ends."""
    engine = make_engine(f"sqlite:///{database}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    uninstall = install_job_dispatch(factory, _dispatcher(factory))
    flaky = FlakyCharge()
    unregister = register_operators(flaky)
    settings = Settings(env="test", broker_url="", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings=settings, session_factory=factory)
    try:
        with serve(app) as url:
            yield LiveServer(url, factory, flaky, _seed_users(factory))
    finally:
        unregister()
        uninstall()
        engine.dispose()


if __name__ == "__main__":  # pragma: no cover - a workspace to look at by hand
    import sys
    import tempfile

    ensure_bundles()
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp) / "potok.sqlite3") as srv:
        print(srv.deploy(*sys.argv[1:]).text if len(sys.argv) > 1 else "", flush=True)
        print(f"{srv.url}  (anna / root / olga, password {PASSWORD!r})", flush=True)
        with suppress(KeyboardInterrupt):  # Ctrl+C ends the dev server
            while True:
                time.sleep(3600)
