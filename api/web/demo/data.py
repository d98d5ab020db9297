"""Demo directories for `make run`: cities, loss reasons, delivery rules, expense articles with
budgets, the order queue's policies, the managers' Telegram chats, and the local doubles
prepared as `potok hooks register` would (webhooks subscribed, an auto-parts catalog in the
MoySklad double, then synced into the products directory through MoySklad's API).

The doubles are called in-process (the server is not running during `potok demo load`), over
their real HTTP API, through a transport that hands each request to the mounted doubles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
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

# The managers' Telegram chats with the orders bot (the demo's "phones").
TELEGRAM_CHATS = {"maria": "1001", "ivan": "1002", "boss": "1003"}
CITIES = (
    ("Новосибирск", "ул. Ленина, 1, пункт выдачи «Газель-маркет»", "ivan"),
    ("Москва", "ул. Тверская, 7, магазин на первом этаже", "maria"),
    ("Екатеринбург", "ул. Малышева, 5", "maria"),
)
FALLBACK_MANAGER = "boss"
LOSS_REASONS = (
    "Дорого",
    "Нет в наличии",
    "Долгая доставка",
    "Купил в другом месте",
    "Не выходит на связь",
    "Спам",
)
DELIVERY_RULES = (
    ("courier", "Курьер магазина", 2, 5),
    ("cdek", "СДЭК", 1, 7),
    ("russian_post", "Почта России", 3, 14),
    ("pickup", "Самовывоз", 0, 1),
)
EXPENSE_ARTICLES = (
    ("Реклама", "Маркетинг", 100_000),
    ("Лицензии ПО", "Маркетинг", 80_000),
    ("Упаковка", "Склад", 50_000),
    ("Аренда склада", "Склад", 120_000),
    ("Канцтовары", "Офис", 15_000),
)
GROUP_PLANS = {"Маркетинг": 150_000, "Склад": 160_000, "Офис": 15_000}
PRODUCT_GROUPS = [
    {
        "group": "Кузов",
        "keywords": ["бампер", "капот", "крыло", "дверь", "фара"],
        "call_script": "Уточните марку, модель и год, цвет кузова и нужна ли покраска.",
    },
    {
        "group": "Тормоза",
        "keywords": ["колодк", "диск", "суппорт"],
        "call_script": "Уточните VIN, ось (перед/зад) и нужен ли монтаж.",
    },
]
# Auto parts in the MoySklad double: code = the SKU deals use, prices in kopecks.
CATALOG = (
    ("0b4f3b26-0000-4000-8000-000000000301", "GZ-101", "Бампер передний ГАЗель Next", 749000, 8),
    ("0b4f3b26-0000-4000-8000-000000000302", "GZ-550", "Клипса крепления бампера", 5000, 200),
    ("0b4f3b26-0000-4000-8000-000000000303", "BOSCH-0986", "Колодки тормозные BOSCH", 649500, 12),
    ("0b4f3b26-0000-4000-8000-000000000304", "GZ-330", "Фара левая ГАЗель Бизнес", 539000, 3),
)
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
    products: list[dict[str, Any]] = [
        {"id": pid, "code": code, "article": code, "name": name, "salePrice": price, "stock": stock}
        for pid, code, name, price, stock in CATALOG
    ]
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
    for username, chat in TELEGRAM_CHATS.items():
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and not user.telegram_chat_id:
            user.telegram_chat_id = chat
    if not directories.list_cities(session):
        for name, address, manager in CITIES:
            directories.save_city(session, name=name, pickup_address=address, manager=manager)
        added["cities"] = len(CITIES)
    if not directories.is_set(session, "fallback_manager"):
        directories.set_setting(session, "fallback_manager", FALLBACK_MANAGER, actor="demo")
    if not directories.is_set(session, "product_groups"):
        directories.set_setting(session, "product_groups", PRODUCT_GROUPS, actor="demo")
    if not directories.list_loss_reasons(session):
        for position, reason in enumerate(LOSS_REASONS, start=1):
            directories.save_loss_reason(session, name=reason, position=position)
        added["loss_reasons"] = len(LOSS_REASONS)
    if not directories.list_delivery_rules(session):
        for carrier, title, first, window in DELIVERY_RULES:
            directories.save_delivery_rule(
                session, carrier=carrier, title=title, min_days=first, window_days=window
            )
        added["delivery_rules"] = len(DELIVERY_RULES)
    if not directories.list_articles(session):
        for article, group, plan in EXPENSE_ARTICLES:
            directories.save_article(session, name=article, group=group)
            for month in demo_months():
                directories.set_plan(
                    session, month=month, kind="article", name=article, plan=plan * 100
                )
        for group, plan in GROUP_PLANS.items():
            for month in demo_months():
                directories.set_plan(
                    session, month=month, kind="group", name=group, plan=plan * 100
                )
        added["expense_articles"] = len(EXPENSE_ARTICLES)
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
