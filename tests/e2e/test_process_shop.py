"""The live shop the process end-to-end tests drive, and what `make run` must give it.

`shop` is potok as `make run` leaves it — a migrated SQLite file (Alembic up to head, so
0005 is exercised), `potok demo load` (demo users, the five processes, directories, budgets,
products, the local doubles subscribed to /hooks/*) — served by uvicorn from a thread with
every double mounted at /sandbox/*. The tests act only through that surface: REST with the
demo users' tokens, the doubles' customer-side controls (a Telegram message, a button press,
a payment on the YooKassa checkout, a CDEK status), which reach the real /hooks/*. The real
job runner (`engine.jobs.run_job`) runs each job the app or a previous job created, with the
real handlers calling the doubles over HTTP; time moves by firing timers at a later `now`,
and the workers' periodic duties (Telegram offers, the outbox) are run the same way.

The demo database is built once per test session and copied for each test (a fresh shop
each time, on the same port, since the doubles keep the hook URLs they were given). Other
modules import the fixtures by their function names (`shop_fixture`, `shop_port_fixture`,
`demo_database_fixture`); pytest finds them under their names `shop`, `shop_port`, `demo_database`.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import engine.service  # noqa: F401 - every model module (queue tables included)
from api.app import create_app
from api.demo import DEMO_PASSWORD, load_demo
from connectors.sandbox_store import SandboxStore
from connectors.telegram.config import SANDBOX_BOTS
from engine import queues
from engine.db import make_engine, make_session_factory, session_scope
from engine.directories import use_database
from engine.extensions import run_periodic
from engine.jobs import install_job_dispatch, run_job
from engine.migrate import upgrade
from engine.models import HumanTask, Job, ProcessInstance, utcnow
from engine.outbox import deliver_outbox
from engine.settings import Settings
from engine.timers import fire_due_timers
from handlers.clients import Clients, use_clients
from handlers.ledger import LoyaltyLedger
from handlers.settings import HandlerSettings, point_at_sandbox, sandbox_root
from handlers.telegram_offers import dispatch_tick

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
CUSTOMERS_BOT = SANDBOX_BOTS["customers"][0].split(":", 1)[0]
MANAGERS_BOT = SANDBOX_BOTS["managers"][0].split(":", 1)[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(port: int) -> Settings:
    return Settings(env="test", host="127.0.0.1", port=port, broker_url="", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session", name="shop_port")
def shop_port_fixture() -> int:
    return _free_port()


@pytest.fixture(scope="session", name="demo_database")
def demo_database_fixture(tmp_path_factory: pytest.TempPathFactory, shop_port: int) -> Path:
    """`potok db upgrade` + `potok demo load` into a SQLite file, once."""
    path = tmp_path_factory.mktemp("demo") / "potok.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        load_demo(session, settings=_settings(shop_port))
    engine.dispose()
    return path


@dataclass
class Shop:
    """The running shop and the handles a test needs on it."""

    root: str
    factory: sessionmaker[Session]
    sent: list[int]
    tokens: dict[str, str] = field(default_factory=dict)

    # --- the public surface -------------------------------------------------------------
    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.root, timeout=30)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            answer = httpx.post(
                f"{self.root}/api/auth/token",
                json={"username": username, "password": DEMO_PASSWORD},
            )
            assert answer.status_code == 200, answer.text
            self.tokens[username] = answer.json()["access_token"]
        return self.tokens[username]

    def api(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        url = f"{self.root}/api{path}"
        return httpx.request(method, url, headers=headers, timeout=30, **kwargs)

    def tasks(self, user: str, **filters: Any) -> list[dict[str, Any]]:
        answer = self.api(user, "GET", "/tasks", params={"limit": 500, **filters})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def task(self, user: str, instance_id: str, element_id: str) -> dict[str, Any]:
        found = [
            t for t in self.tasks(user, instance_id=instance_id) if t["element_id"] == element_id
        ]
        assert len(found) == 1, [t["element_id"] for t in self.tasks(user, instance_id=instance_id)]
        return found[0]

    def complete(
        self, user: str, task: dict[str, Any], status: int = 200, run: bool = True, **data: Any
    ) -> httpx.Response:
        """Complete a task over REST (expecting `status`), then run the jobs it made."""
        body = {"data": {**task["data"], **data}}
        answer = self.api(user, "POST", f"/tasks/{task['id']}/complete", json=body)
        assert answer.status_code == status, answer.text
        if run:
            self.run_jobs()
        return answer

    def start(self, user: str, key: str, **variables: Any) -> str:
        """Start an instance over REST; its id (the jobs it made have run)."""
        answer = self.api(
            user, "POST", f"/processes/{key}/instances", json={"variables": variables}
        )
        assert answer.status_code == 201, answer.text
        self.run_jobs()
        return str(answer.json()["id"])

    def instance(self, instance_id: str, user: str = "admin") -> dict[str, Any]:
        answer = self.api(user, "GET", f"/instances/{instance_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def control(self, system: str, action: str, body: Any = None) -> Any:
        answer = httpx.post(
            f"{self.root}/sandbox/{system}/_control/{action}", json=body or {}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def customer_writes(self, chat_id: int | str, text: str, name: str = "Иван") -> Any:
        """A customer writes to the shop's Telegram bot (the double posts the update to us)."""
        sent = self.control(
            "telegram",
            "message",
            {"bot": CUSTOMERS_BOT, "chat_id": chat_id, "text": text, "from": {"first_name": name}},
        )
        assert sent["delivery"]["status_code"] == 200, sent
        self.run_jobs()
        return sent

    @contextmanager
    def web(self, username: str) -> Iterator[httpx.Client]:
        """A signed-in browser session of `username` (cookie + CSRF header), for the pages."""
        with httpx.Client(base_url=self.root, timeout=30) as client:
            page = client.get("/login")
            token = CSRF.search(page.text)
            assert token, page.text[:300]
            form = {"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
            assert client.post("/login", data=form).status_code == 303
            token = CSRF.search(client.get("/me").text)
            assert token
            client.headers["X-CSRF-Token"] = token.group(1)
            yield client

    def online(self, username: str, online: bool = True) -> None:
        """The manager flips the switch on their page (/me)."""
        with self.web(username) as browser:
            answer = browser.post("/me/online", data={"online": "1" if online else "0"})
            assert answer.status_code == 303, answer.text

    # --- what the doubles hold ----------------------------------------------------------
    def records(self, system: str, kind: str) -> list[dict[str, Any]]:
        return SandboxStore(self.factory).records(system, kind)

    def bot_said(self, chat_id: int | str, bot: str = CUSTOMERS_BOT) -> list[str]:
        """Texts a bot sent to a chat, oldest first (as they read now, after edits)."""
        return [
            m["text"]
            for m in self.records("telegram", "message")
            if (m["bot_id"], m["chat_id"]) == (bot, str(chat_id))
        ]

    def sms_to(self, phone_digits: str) -> list[str]:
        return [m["text"] for m in self.records("sms", "sms") if m["phone"].endswith(phone_digits)]

    # --- the workers --------------------------------------------------------------------
    def run_jobs(self) -> list[str]:
        """Run every job sent so far (and those they create) with the real job runner."""
        outcomes = []
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "jobs keep coming"
            try:
                job_id = self.sent.pop(0)  # atomic: a background worker may take some too
            except IndexError:
                return outcomes
            outcomes.append(run_job(self.factory, job_id).status)

    def fire(self, after: timedelta) -> int:
        """Fire every timer due within `after` from now (time moves; nobody sleeps)."""
        fired = fire_due_timers(self.factory, now=utcnow() + after)
        self.run_jobs()
        return fired

    def beat(self, after: timedelta = timedelta(0)) -> None:
        """One tick of the workers' periodic duties: offers (at now + after) and the outbox."""
        if after:
            dispatch_tick(self.factory, now=utcnow() + after)
        else:
            run_periodic(self.factory)
        deliver_outbox(self.factory)

    @contextmanager
    def worker(self, every: float = 0.1) -> Iterator[None]:
        """An embedded worker in a thread while the block runs (a person acts in a browser):
        jobs, due timers, the periodic duties and the outbox, like `make run`'s worker."""
        stop = threading.Event()
        failures: list[BaseException] = []

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.run_jobs()
                    fire_due_timers(self.factory)
                    self.beat()
                except BaseException as exc:  # reported when the block ends
                    failures.append(exc)
                    return
                stop.wait(every)

        thread = threading.Thread(target=loop, name="shop-worker", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not failures, failures

    def return_idle(self, after: timedelta) -> list[str]:
        """The beat's return-to-queue duty, at now + after."""
        with session_scope(self.factory) as session:
            return queues.return_idle_tasks(session, utcnow() + after)

    # --- reads for assertions (the instance API shows the same; these are shorter) -------
    def instances(self, key: str) -> list[ProcessInstance]:
        with session_scope(self.factory) as session:
            stmt = select(ProcessInstance).where(ProcessInstance.key == key)
            return list(session.scalars(stmt.order_by(ProcessInstance.created_at)))

    def open_tasks(self, element_id: str) -> list[HumanTask]:
        with session_scope(self.factory) as session:
            stmt = select(HumanTask).where(
                HumanTask.element_id == element_id, HumanTask.state == "open"
            )
            return list(session.scalars(stmt.order_by(HumanTask.created_at)))

    def incidents(self) -> list[Job]:
        with session_scope(self.factory) as session:
            return list(session.scalars(select(Job).where(Job.state == "failed")))


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread, socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the shop did not start"
        time.sleep(0.02)
    return server, thread, sock


@pytest.fixture(name="shop")
def shop_fixture(demo_database: Path, shop_port: int, tmp_path: Path) -> Iterator[Shop]:
    """A fresh copy of the demo shop, served on the session's port."""
    path = tmp_path / "potok.sqlite3"
    shutil.copy(demo_database, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    sent: list[int] = []
    uninstall = install_job_dispatch(factory, sent.append)
    settings = _settings(shop_port)
    app = create_app(settings=settings, session_factory=factory)
    handler_settings = point_at_sandbox(
        HandlerSettings(_env_file=None),  # type: ignore[call-arg]
        sandbox_root(settings),
    )
    clients = Clients(handler_settings, ledger=LoyaltyLedger(SandboxStore(factory)))
    server, thread, sock = _serve(app, shop_port)
    try:
        with use_clients(clients), use_database(factory):
            yield Shop(f"http://127.0.0.1:{shop_port}", factory, sent)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        uninstall()
        engine.dispose()


# --- what `make run` gives a new user ------------------------------------------------------


def test_make_run_leaves_a_shop_that_works_offline(shop: Shop) -> None:
    """Demo users, directories, budgets and products are there; the doubles know our hooks."""
    with shop.http() as http:
        assert http.get("/demo").status_code == 200
    month = utcnow().strftime("%Y-%m")
    report = shop.api("olga", "GET", "/reports/budget", params={"month": month})
    assert report.status_code == 200
    assert {g["name"] for g in report.json()["groups"]} == {"Маркетинг", "Склад", "Офис"}
    hooks = {h["url"] for h in shop.records("telegram", "webhook")}
    assert hooks == {f"{shop.root}/hooks/telegram/{bot}" for bot in ("managers", "customers")}
    with session_scope(shop.factory) as session:
        from engine.directories import list_cities, list_products, routing_table

        assert "GZ-101" in {p.code for p in list_products(session)}
        assert routing_table(session)["cities"]["Новосибирск"] == {"manager": "ivan"}
        assert len(list_cities(session)) == 3
    assert {d["key"] for d in shop.api("admin", "GET", "/definitions").json()["items"]} >= {
        "lead_qualification",
        "deal_pipeline",
        "payment_to_shipment",
        "expense_approval",
        "order_assignment",
    }
