"""End to end over real HTTP: potok's app (doubles mounted, hooks registered) on a free port.

The doubles play the other side — a customer pays on YooKassa's checkout, writes to the
Telegram bot, a CDEK courier delivers — and each notification reaches the waiting process
through /hooks/*, verified and re-fetched exactly as from the real vendors.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.hooks.register import register_webhooks
from api.hooks.settings import HookSettings
from connectors.sandbox_store import SandboxBase, SandboxStore
from connectors.telegram.config import SANDBOX_BOTS
from engine import service
from engine.db import session_scope
from engine.models import InboundEvent, ProcessInstance
from engine.operators import HandlerContext
from engine.settings import Settings
from handlers import courier, notify, payments
from handlers.clients import Clients, use_clients
from handlers.settings import HandlerSettings, point_at_sandbox, sandbox_root
from tests.integration.hooks.conftest import waiting_bpmn


@dataclass
class Live:
    root: str
    factory: sessionmaker[Session]
    clients: Clients

    def control(self, system: str, action: str, body: Any = None) -> Any:
        response = httpx.post(f"{self.root}/sandbox/{system}/_control/{action}", json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def deploy(self, key: str, message: str, keys: tuple[str, ...], start_on: bool) -> None:
        with session_scope(self.factory) as session:
            files = [(f"{key}.bpmn", waiting_bpmn(key, message, keys, start_on=start_on))]
            service.deploy(session, files=files, deployed_by="tests")

    def start(self, key: str, **variables: Any) -> str:
        with session_scope(self.factory) as session:
            return service.start_instance(session, key=key, variables=variables).id

    def instances(self, key: str) -> list[ProcessInstance]:
        with session_scope(self.factory) as session:
            stmt = select(ProcessInstance).where(ProcessInstance.key == key)
            return list(session.scalars(stmt))

    def outcomes(self, source: str) -> list[str]:
        with session_scope(self.factory) as session:
            stmt = select(InboundEvent.outcome).where(InboundEvent.source == source)
            return list(session.scalars(stmt.order_by(InboundEvent.id)))

    def wait_until(self, check: Any, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)


def _ctx(live: Live, task: str) -> HandlerContext:
    return HandlerContext("e2e", task, task, f"e2e:{task}", services={"clients": live.clients})


@pytest.fixture
def live(db_engine: Engine, session_factory: sessionmaker[Session]) -> Iterator[Live]:
    SandboxBase.metadata.create_all(db_engine)
    SandboxStore(session_factory).reset()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(env="test", host="127.0.0.1", port=port, broker_url="", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings=settings, session_factory=session_factory)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    handler_settings = point_at_sandbox(
        HandlerSettings(_env_file=None),  # type: ignore[call-arg]
        sandbox_root(settings),
    )
    with use_clients(Clients(handler_settings)) as clients:
        root = f"http://127.0.0.1:{port}"
        done = register_webhooks(root, clients, HookSettings(_env_file=None))  # type: ignore[call-arg]
        assert {done[k] for k in ("telegram:customers", "cdek", "moysklad", "avito")} == {"ok"}
        yield Live(root, session_factory, clients)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_a_payment_on_the_checkout_reaches_the_waiting_process(live: Live) -> None:
    live.deploy("paywait", "payment_received", ("order_id",), start_on=False)
    instance_id = live.start("paywait", order_id="O-1")
    link = payments.create_link(ctx=_ctx(live, "pay"), order_id="O-1", amount="11980.00")
    assert link["confirmation_url"].startswith(f"{live.root}/sandbox/yookassa/checkout/")
    live.control("yookassa", f"payments/{link['payment_id']}/pay")
    (instance,) = live.instances("paywait")
    assert instance.id == instance_id and instance.status == "completed"
    assert instance.variables["reply"]["amount"] == "11980.00"
    assert live.outcomes("yookassa") == ["delivered"]


def test_a_customer_message_in_telegram_starts_a_lead_and_gets_an_answer(live: Live) -> None:
    live.deploy("leadwait", "inbound_message", ("channel", "contact"), start_on=True)
    bot_id = SANDBOX_BOTS["customers"][0].split(":", 1)[0]
    live.control("telegram", "message", {"bot": bot_id, "chat_id": 4242, "text": "Нужен бампер"})
    (lead,) = live.instances("leadwait")
    assert (lead.variables["first"]["contact"], lead.variables["first"]["text"]) == (
        "4242",
        "Нужен бампер",
    )
    sent = notify.message(
        ctx=_ctx(live, "answer"), channel="telegram", contact="4242", text="Какая модель?"
    )
    assert sent["channel"] == "telegram"
    state = httpx.get(f"{live.root}/sandbox/telegram/_control/state").json()
    assert [m["text"] for m in state["records"]["message"]] == ["Какая модель?"]


def test_a_cdek_delivery_reaches_the_waiting_process(live: Live) -> None:
    shipment = courier.create_shipment(
        ctx=_ctx(live, "ship"),
        carrier="cdek",
        order_id="O-7",
        recipient="Иван Петров",
        phone="+79131234567",
        city="Новосибирск",
        address="ул. Ленина, 1",
        weight=2,
    )
    uuid = shipment["shipment_id"]
    live.wait_until(lambda: live.outcomes("cdek") == ["unmatched"])  # CREATED: nobody waits
    live.deploy("shipwait", "shipment_status", ("order_id",), start_on=False)
    live.start("shipwait", order_id="O-7")
    live.control("cdek", f"orders/{uuid}/status", {"code": "DELIVERED", "city": "Новосибирск"})
    (instance,) = live.instances("shipwait")
    assert instance.status == "completed"
    reply = instance.variables["reply"]
    assert (reply["status"], reply["track_number"]) == ("delivered", shipment["track_number"])
