"""order_assignment end to end, through its Telegram surface: orders start over REST, the
managers' bot double shows the blind offers, presses come back through /hooks/telegram, the
managers switch themselves online on their page, the admin maps Telegram ids on the
directories page. The queue policy (blind, FIFO, 60 s cool-down, online only) is the demo's.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from api.auth.service import create_user
from connectors.sandbox_store import SandboxStore
from connectors.telegram.config import SANDBOX_BOTS
from engine.db import session_scope
from engine.models import InboundEvent
from tests.e2e.test_process_shop import (  # noqa: F401
    MANAGERS_BOT,
    Shop,
    demo_database_fixture,
    shop_fixture,
    shop_port_fixture,
)

BUTTON = "Принять заказ"
MANAGERS_SECRET = SANDBOX_BOTS["managers"][1]


def _order(number: str, amount: float = 12990.0) -> dict[str, Any]:
    return {
        "number": number,
        "source": "zzap:account-2",
        "arrived_at": "2026-11-30T09:15:00+03:00",
        "amount": amount,
        "customer": {"name": "ООО Автодеталь", "phone": "+79130000000"},
        "items": [{"sku": "BOSCH-0986", "name": "Колодки", "qty": 2, "price": 6495.0}],
    }


def _arrives(shop: Shop, number: str) -> str:
    answer = shop.api(
        "admin",
        "POST",
        "/processes/order_assignment/instances",
        json={"variables": {"order": _order(number)}, "business_key": number},
    )
    assert answer.status_code == 201, answer.text
    shop.run_jobs()
    return str(answer.json()["id"])


def _offers(shop: Shop, chat: str) -> list[dict[str, Any]]:
    """The order bot's messages in a manager's chat, as they read now."""
    return [
        m
        for m in shop.records("telegram", "message")
        if (m["bot_id"], m["chat_id"]) == (MANAGERS_BOT, chat)
    ]


def _buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def _press(shop: Shop, chat: str, message: dict[str, Any]) -> Any:
    [(_text, data)] = _buttons(message)
    body = {"bot": MANAGERS_BOT, "chat_id": chat, "message_id": message["message_id"], "data": data}
    return shop.control("telegram", "press", body)


def _outcomes(shop: Shop) -> list[str]:
    with session_scope(shop.factory) as session:
        stmt = select(InboundEvent).where(InboundEvent.source == "telegram")
        return [
            e.outcome
            for e in session.scalars(stmt.order_by(InboundEvent.id))
            if e.payload.get("message") == "button_pressed"
        ]


def _managers(shop: Shop, count: int) -> dict[str, str]:
    """`count` more managers; the admin maps their Telegram ids on the directories page."""
    chats = {f"m{i:02d}": str(2000 + i) for i in range(1, count + 1)}
    with session_scope(shop.factory) as session:
        for username in chats:
            create_user(
                session,
                username=username,
                password="demo",
                roles=("manager",),
                groups=("managers",),
                display_name=f"Менеджер {username}",
            )
    with shop.web("admin") as admin:
        form = {f"telegram:{user}": chat for user, chat in chats.items()} | {"buffer_seconds": "60"}
        assert admin.post("/admin/directories/orders", data=form).status_code == 303
    return chats


def test_a_blind_offer_goes_to_online_managers_and_ten_clicks_make_one_winner(
    shop: Shop,
) -> None:
    chats = _managers(shop, 10)
    for username in chats:
        shop.online(username)  # maria, ivan and boss stay offline
    order = _arrives(shop, "ZZ-100500")

    # the invisible buffer: no task, no offer
    assert shop.tasks("m01", candidate="me") == []
    shop.beat()
    assert shop.records("telegram", "message") == []
    assert shop.fire(timedelta(seconds=30)) == 0
    assert shop.fire(timedelta(seconds=61)) == 1

    shop.beat()
    for username, chat in chats.items():
        [offer] = _offers(shop, chat)
        assert offer["text"] == "Новый заказ №ZZ-100500\nПоступил: 30.11 09:15", username
        assert _buttons(offer)[0][0] == BUTTON
    for offline in ("1001", "1002", "1003"):  # maria, ivan, boss: not on shift
        assert _offers(shop, offline) == []
    [task] = shop.tasks("m02", candidate="me")
    assert set(task["data"]) == {"order_number", "arrived_at"}  # blind in the inbox too

    # ten managers press «Принять заказ» at once: ten callback queries reach our hook together
    # (built as Telegram sends them; the double itself numbers updates one at a time)
    store = SandboxStore(shop.factory)
    updates = []
    for position, chat in enumerate(chats.values(), start=1):
        [offer] = _offers(shop, chat)
        query_id = f"9{position:03d}{chat}"
        store.add("telegram", "callback_query", query_id, {"bot_id": MANAGERS_BOT, "answer": None})
        query = {
            "id": query_id,
            "from": {"id": int(chat), "is_bot": False, "first_name": chat},
            "message": {
                "message_id": offer["message_id"],
                "chat": {"id": int(chat), "type": "private"},
                "date": offer["date"],
                "text": offer["text"],
            },
            "chat_instance": f"-{chat}",
            "data": _buttons(offer)[0][1],
        }
        updates.append({"update_id": 900_000_000 + position, "callback_query": query})
    barrier = threading.Barrier(len(updates))
    statuses: list[int] = []

    def press(update: dict[str, Any]) -> None:
        barrier.wait()
        answer = httpx.post(
            f"{shop.root}/hooks/telegram/managers",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": MANAGERS_SECRET},
            timeout=60,
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=press, args=(update,)) for update in updates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 10
    assert sorted(_outcomes(shop)) == ["delivered"] + ["unmatched"] * 9

    won = shop.api("admin", "GET", f"/tasks/{task['id']}").json()
    winner = won["assignee"]
    assert winner in chats
    shop.beat()  # the outbox edits the offers
    for username, chat in chats.items():
        [offer] = _offers(shop, chat)
        assert _buttons(offer) == [], username  # every button is gone
        if username == winner:
            assert offer["text"].startswith("Заказ №ZZ-100500 ваш")
            assert "ООО Автодеталь" in offer["text"] and "12 990" in offer["text"]
        else:
            assert offer["text"] == "Заказ №ZZ-100500 уже взят другим менеджером"
    # the winner sees the whole order in the inbox as well
    mine = shop.api(winner, "GET", f"/tasks/{task['id']}").json()
    assert mine["data"]["order_amount"] == 12990.0 and mine["data"]["customer"]["name"]

    # Telegram's spinners: the winner's press answered plainly, the others "Уже неактуально"
    deadline = time.monotonic() + 10
    while any(q["answer"] is None for q in shop.records("telegram", "callback_query")):
        assert time.monotonic() < deadline, shop.records("telegram", "callback_query")
        time.sleep(0.05)
    answers = sorted(str(q["answer"]["text"]) for q in shop.records("telegram", "callback_query"))
    assert answers == ["None"] + ["Уже неактуально"] * 9
    assert shop.instance(order)["status"] == "waiting"


def test_cooldown_strict_fifo_and_nobody_online(shop: Shop) -> None:
    maria, ivan = "1001", "1002"  # the demo's managers and their chats with the order bot
    shop.online("maria")
    shop.online("ivan")
    _arrives(shop, "A-1")
    _arrives(shop, "A-2")
    assert shop.fire(timedelta(seconds=61)) == 2
    shop.beat()
    # strict FIFO: only the oldest order is offered
    assert [o["text"].split("\n")[0] for o in _offers(shop, maria)] == ["Новый заказ №A-1"]
    assert [o["text"].split("\n")[0] for o in _offers(shop, ivan)] == ["Новый заказ №A-1"]
    first, second = shop.open_tasks("take_task")
    refused = shop.api("ivan", "POST", f"/tasks/{second.id}/claim")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_next_in_queue")

    _press(shop, maria, _offers(shop, maria)[0])
    shop.beat()
    assert _offers(shop, maria)[0]["text"].startswith("Заказ №A-1 ваш")
    assert _offers(shop, ivan)[0]["text"] == "Заказ №A-1 уже взят другим менеджером"
    # maria is in her cool-down: A-2 goes to ivan only
    assert [o["text"].split("\n")[0] for o in _offers(shop, maria)] == ["Заказ №A-1 ваш"]
    assert _offers(shop, ivan)[1]["text"].startswith("Новый заказ №A-2")
    cooling = shop.api("maria", "POST", f"/tasks/{second.id}/claim")
    assert (cooling.status_code, cooling.json()["error"]["code"]) == (409, "cooldown_active")
    assert shop.tasks("maria", candidate="me") == []  # nothing offered in the inbox either
    shop.beat(after=timedelta(seconds=61))  # her pause is over: she gets A-2 too
    assert _offers(shop, maria)[1]["text"].startswith("Новый заказ №A-2")
    _press(shop, ivan, _offers(shop, ivan)[1])
    shop.beat()
    assert _offers(shop, maria)[1]["text"] == "Заказ №A-2 уже взят другим менеджером"
    assert first.id != second.id

    # nobody online: orders wait; the first manager to come online gets the oldest
    shop.online("maria", False)
    shop.online("ivan", False)
    _arrives(shop, "B-1")
    _arrives(shop, "B-2")
    assert shop.fire(timedelta(seconds=61)) == 2
    shop.beat()
    assert len(_offers(shop, maria)) == 2 and len(_offers(shop, ivan)) == 2  # nothing new
    boss = "1003"  # a manager who has taken nothing today (no pause)
    shop.online("boss")
    shop.beat()
    [newest] = _offers(shop, boss)
    assert newest["text"].startswith("Новый заказ №B-1")
    _press(shop, boss, newest)
    shop.beat()
    assert [o["text"].split("\n")[0] for o in _offers(shop, boss)] == ["Заказ №B-1 ваш"]
    shop.beat(after=timedelta(seconds=61))  # B-2 waited for the only manager on shift
    assert _offers(shop, boss)[1]["text"].startswith("Новый заказ №B-2")
    assert len(_offers(shop, maria)) == 2 and len(_offers(shop, ivan)) == 2  # still offline
