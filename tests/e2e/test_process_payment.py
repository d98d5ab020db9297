"""payment_to_shipment end to end, as the whole story of a customer: a Telegram conversation
qualifies the lead, the manager converts it and leads the deal over REST, the payment link
arrives in the same Telegram chat, the customer pays on the YooKassa double's checkout page,
MoySklad, the SMS gateway and CDEK doubles hold exactly what the shop did."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx

from tests.e2e.test_process_shop import (  # noqa: F401
    Shop,
    demo_database_fixture,
    shop_fixture,
    shop_port_fixture,
)

BUMPER = {"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 7490.0, "weight": 6.5}
LINK = re.compile(r"https?://\S+/sandbox/yookassa/checkout/(\S+)")


def _linked(records: list[dict[str, Any]], order_id: str) -> list[dict[str, Any]]:
    return [r for r in records if order_id in json.dumps(r)]


def _deal_of(shop: Shop, chat: int) -> str:
    [deal] = [d for d in shop.instances("deal_pipeline") if d.variables.get("contact") == str(chat)]
    return deal.id


def _payment_of(shop: Shop, deal_id: str) -> str:
    [flow] = [p for p in shop.instances("payment_to_shipment") if p.variables["deal_id"] == deal_id]
    return flow.id


def test_the_whole_story_from_telegram_to_a_delivered_parcel(shop: Shop) -> None:
    chat = 710001
    shop.customer_writes(chat, "Нужен передний бампер на ГАЗель", name="Иван")
    for answer in ("+7 913 123-45-67", "Новосибирск", "Передний бампер"):
        shop.customer_writes(chat, answer)
    [lead] = [i for i in shop.instances("lead_qualification") if i.variables["contact"] == "710001"]
    shop.complete("ivan", shop.task("ivan", lead.id, "call_task"), call_result="convert")

    deal = _deal_of(shop, chat)
    stage = shop.task("ivan", deal, "stage_task")
    shop.complete(
        "ivan",
        stage,
        next_stage="awaiting_payment",
        items=[BUMPER],
        amount=7490.0,
        delivery_method="cdek",
        delivery_address="Новосибирск, ул. Ленина, 1",
    )
    # the MoySklad double has the bumper in stock; a first purchase needs a phone call
    confirm = shop.task("ivan", deal, "confirm_task")
    assert shop.instance(deal)["variables"]["stock"]["status"] == "confirmed"
    shop.complete("ivan", confirm, confirmation="confirmed")

    deal_id = shop.instance(deal)["variables"]["deal_id"]
    flow = _payment_of(shop, deal_id)
    order_id = shop.instance(flow)["variables"]["order_id"]
    [order] = [o for o in shop.records("moysklad", "customerorder") if o["id"] == order_id]
    link_text = shop.bot_said(chat)[-1]  # on the channel the lead came from
    found = LINK.search(link_text)
    assert found and "7490" in link_text, link_text
    checkout = found.group(0)

    # the customer opens the link and pays on YooKassa's page
    page = httpx.get(checkout)
    assert page.status_code == 200 and "Оплатить" in page.text
    assert httpx.post(f"{checkout}/pay").status_code == 303
    shop.run_jobs()

    demands = _linked(shop.records("moysklad", "demand"), order_id)
    payments_in = _linked(shop.records("moysklad", "paymentin"), order_id)
    assert (len(demands), len(payments_in)) == (1, 1)
    assert payments_in[0]["sum"] == 749000
    [sms] = shop.sms_to("79131234567")
    assert "224.7" in sms and "баланс" in sms  # 3 % of 7 490 ₽, and the balance
    assert "получена" in shop.bot_said(chat)[-1]
    assert order["name"] in shop.bot_said(chat)[-1]

    # YooKassa sends the same notification again: nothing is done twice
    again = httpx.post(
        f"{shop.root}/hooks/yookassa",
        json={
            "type": "notification",
            "event": "payment.succeeded",
            "object": {"id": found.group(1)},
        },
    )
    assert again.json()["events"][0]["outcome"] == "duplicate"
    shop.run_jobs()
    assert len(_linked(shop.records("moysklad", "demand"), order_id)) == 1
    assert len(_linked(shop.records("moysklad", "paymentin"), order_id)) == 1
    assert len(shop.sms_to("79131234567")) == 1

    # the warehouse only confirms a CDEK request pre-filled from the deal
    ship = shop.task("pavel", flow, "confirm_shipment")
    assert ship["data"]["courier_request"] | {"weight": 6.5} == {
        "carrier": "cdek",
        "recipient": "Иван",
        "phone": "+79131234567",
        "city": "Новосибирск",
        "address": "Новосибирск, ул. Ленина, 1",
        "branch": "",
        "weight": 6.5,
        "places": 1,
        "cod_amount": 0,
    }
    shop.complete("pavel", ship, ready_to_ship=True)
    [parcel] = [o["entity"] for o in shop.records("cdek", "order")]
    assert parcel["recipient"]["name"] == "Иван"
    assert parcel["recipient"]["phones"] == [{"number": "+79131234567"}]
    assert parcel["to_location"]["address"] == "Новосибирск, ул. Ленина, 1"
    track = shop.instance(flow)["variables"]["shipment"]["track_number"]
    shipped = shop.bot_said(chat)[-1]
    assert track in shipped and "СДЭК" in shipped

    # CDEK delivers: its webhook completes the deal and the customer is asked for a review
    shop.control(
        "cdek", f"orders/{parcel['uuid']}/status", {"code": "DELIVERED", "city": "Новосибирск"}
    )
    shop.run_jobs()
    assert "отзыв" in shop.bot_said(chat)[-1]
    assert shop.instance(flow)["status"] == "completed"
    won = shop.instance(deal)
    assert (won["status"], won["variables"]["deal_result"]) == ("completed", "won")


def test_an_unpaid_order_is_reminded_then_cancelled_and_its_reservation_released(
    shop: Shop,
) -> None:
    chat = 710002
    started = shop.api(
        "ivan",
        "POST",
        "/messages",
        json={
            "name": "deal_start",
            "variables": {
                "customer": {
                    "name": "Анна",
                    "phone": "+79130000002",
                    "city": "Москва",
                    "orders_count": 2,
                },
                "manager": "maria",
                "channel": "telegram",
                "contact": str(chat),
                "lead_source": "telegram",
            },
        },
    )
    assert started.status_code == 200, started.text
    [deal] = started.json()["started"]
    stage = shop.task("maria", deal, "stage_task")
    shop.complete(
        "maria",
        stage,
        next_stage="awaiting_payment",
        items=[BUMPER | {"qty": 2}],
        amount=14980.0,
        delivery_method="pickup",
    )  # a returning customer: no phone call
    flow = _payment_of(shop, shop.instance(deal)["variables"]["deal_id"])
    order_id = shop.instance(flow)["variables"]["order_id"]
    reserved = [o for o in shop.records("moysklad", "customerorder") if o["id"] == order_id]
    assert reserved[0]["reservedSum"] == 1498000

    assert shop.fire(timedelta(hours=25)) == 1
    assert "ждёт оплаты" in shop.bot_said(chat)[-1]
    assert shop.fire(timedelta(hours=73)) == 1
    [cancelled] = [o for o in shop.records("moysklad", "customerorder") if o["id"] == order_id]
    assert cancelled["reservedSum"] == 0
    assert "отменён" in shop.bot_said(chat)[-1]
    lost = shop.instance(deal)
    assert (lost["variables"]["deal_result"], lost["variables"]["loss_reason"]) == (
        "lost",
        "Заказ не оплачен вовремя",
    )
    assert _linked(shop.records("moysklad", "demand"), order_id) == []
