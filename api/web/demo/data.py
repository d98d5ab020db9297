"""Demo directories for `make run`: cities, loss reasons, delivery rules, expense articles with
budgets, the order queue's policies, the managers' Telegram chats, and the local doubles
prepared as `potok hooks register` would (webhooks subscribed, an auto-parts catalog in the
MoySklad double, then synced into the products directory through MoySklad's API).

The doubles are called in-process (the server is not running during `potok demo load`), over
their real HTTP API, through a transport that hands each request to the mounted doubles.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.hooks.register import register_webhooks
from api.hooks.settings import get_hook_settings
from connectors.base import ConnectorError
from connectors.sandbox_kit import SandboxSettings
from connectors.sandbox_store import SandboxStore
from connectors.sandboxes import mount_sandboxes
from engine import directories, queues
from engine.actor import SYSTEM_ACTOR
from engine.db import make_session_factory
from engine.models import User
from engine.settings import Settings
from handlers.clients import Clients
from handlers.settings import HandlerSettings, point_at_sandbox, sandbox_root

# What the demo shop holds (cities, loss reasons, delivery rules, expense articles with their
# monthly plans in rubles, product groups with call scripts, the MoySklad double's catalog with
# prices in kopecks, the managers' chats with the orders bot): data, kept out of the code.
SHOP: dict[str, Any] = json.loads((Path(__file__).with_name("shop.json")).read_text("utf-8"))
ORDER_QUEUE_POLICY = queues.PolicyInput(
    name=directories.ORDER_QUEUE,
    blind=True,
    visible_fields=("order_number", "arrived_at"),
    fifo=True,
    cooldown_seconds=60,
    online_only=True,
)
OPERATOR_QUEUE_POLICY = queues.PolicyInput(name="operators", return_after_minutes=10)
# Headers of the doubles' raw answer that no longer hold once httpx has decoded the body.
_DECODED = {"content-encoding", "content-length", "transfer-encoding"}


def demo_months(today: date | None = None) -> list[str]:
    """This month and the next (the budgets the demo plans)."""
    today = today or date.today()
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return [today.strftime("%Y-%m"), following.strftime("%Y-%m")]


@contextmanager
def local_doubles(settings: Settings, factory: sessionmaker[Session]) -> Iterator[Clients]:
    """Connector clients that reach the doubles in-process, at the URLs the server will use."""
    app = FastAPI()
    public = sandbox_root(settings).removesuffix("/sandbox")
    per_system = {
        system: SandboxSettings(webhook_url=f"{public}/hooks/{system}")
        for system in ("yookassa", "whatsapp")
    }
    mount_sandboxes(app, SandboxStore(factory), per_system=per_system)

    def forward(request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=public) as inner:
                return await inner.request(
                    request.method,
                    request.url.raw_path.decode(),
                    headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
                    content=request.content,
                )

        answer = asyncio.run(call())
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _DECODED}
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    handler_settings = point_at_sandbox(HandlerSettings(), sandbox_root(settings))
    clients = Clients(handler_settings, transport=httpx.MockTransport(forward))
    try:
        yield clients
    finally:
        clients.close()


def prepare_doubles(settings: Settings, factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Subscribe our hooks at the doubles, stock the MoySklad double; its stock report rows.

    Runs in sessions of its own: call it before the demo's unit of work writes anything
    (SQLite has one writer)."""
    public = sandbox_root(settings).removesuffix("/sandbox")
    products: list[dict[str, Any]] = SHOP["catalog"]
    with local_doubles(settings, factory) as clients:
        register_webhooks(public, clients, get_hook_settings())
        store = SandboxStore(factory)
        for product in products:
            store.put("moysklad", "product", str(product["id"]), product)
        try:
            return clients.moysklad().stock()
        except ConnectorError:  # MoySklad is a real account here, not the double
            return []


def load_demo_directories(
    session: Session, *, stock_rows: list[dict[str, Any]] | None = None
) -> dict[str, int]:
    """Fill the directories that are still empty; {directory: rows added}."""
    added: dict[str, int] = {}
    for username, chat in SHOP["telegram_chats"].items():
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and not user.telegram_chat_id:
            user.telegram_chat_id = chat
    if not directories.list_cities(session):
        for city in SHOP["cities"]:
            directories.save_city(session, **city)
        added["cities"] = len(SHOP["cities"])
    if not directories.is_set(session, "fallback_manager"):
        directories.set_setting(session, "fallback_manager", SHOP["fallback_manager"], actor="demo")
    if not directories.is_set(session, "product_groups"):
        directories.set_setting(session, "product_groups", SHOP["product_groups"], actor="demo")
    if not directories.list_loss_reasons(session):
        for position, reason in enumerate(SHOP["loss_reasons"], start=1):
            directories.save_loss_reason(session, name=reason, position=position)
        added["loss_reasons"] = len(SHOP["loss_reasons"])
    if not directories.list_delivery_rules(session):
        for rule in SHOP["delivery_rules"]:
            directories.save_delivery_rule(session, **rule)
        added["delivery_rules"] = len(SHOP["delivery_rules"])
    if not directories.list_articles(session):
        plans = [("article", a["article"], a["plan"]) for a in SHOP["expense_articles"]]
        plans += [("group", group, plan) for group, plan in SHOP["group_plans"].items()]
        for article in SHOP["expense_articles"]:
            directories.save_article(session, name=article["article"], group=article["group"])
        for month in demo_months():
            for kind, name, rubles in plans:
                directories.set_plan(session, month=month, kind=kind, name=name, plan=rubles * 100)
        added["expense_articles"] = len(SHOP["expense_articles"])
    for policy in (ORDER_QUEUE_POLICY, OPERATOR_QUEUE_POLICY):
        if queues.get_policy(session, name=policy.name) is None:
            queues.save_policy(session, data=policy, actor=SYSTEM_ACTOR)
    if stock_rows:
        added["products"] = directories.sync_products(session, stock_rows)
    return added


def prepare_doubles_for(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """`prepare_doubles` on the database of `session`, before `session` has begun."""
    factory = make_session_factory(session.get_bind())  # type: ignore[arg-type]
    return prepare_doubles(settings, factory)
