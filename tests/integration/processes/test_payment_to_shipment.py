"""payment_to_shipment: order, payment link, paid → write-off/paymentin/receipt/bonus, delivery.

Operators the process calls (parameters as the handlers must accept them; all are jobs):

- warehouse.create_order     deal_id, customer {name, phone, city}, items, amount
                             → {"order_id": ...}  (MoySklad customerorder, items reserved)
- payments.create_link       order_id, amount, description, customer
                             → {"payment_id": ..., "confirmation_url": ...}  (YooKassa)
- notify.message             channel, contact, phone, text  (link, reminder, paid, pickup
                             address, track number, review request; "sms" channel → SMS)
- warehouse.cancel_order     order_id, reason ("not_paid")  (cancel + release reservation)
- warehouse.write_off        order_id, items  (MoySklad demand)
- warehouse.register_payment order_id, amount, payment_id  (MoySklad paymentin)
- payments.create_receipt    payment_id, order_id, amount, items, customer  (fiscal receipt)
- loyalty.credit             phone, amount (the bonus), order_id → {"balance": ...}
- notify.sms                 phone, text  (bonus and balance)
- courier.quote              carrier, city, address, branch, weight
                             → {"price": ..., "delivery_dates": ...}  (dates from the directory)
- courier.create_shipment    carrier, order_id, recipient, phone, city, address, branch,
                             weight, places, cod_amount (0: prepaid), items
                             → {"track_number": ..., "delivery_dates": ..., documents?}
- courier.track              carrier, track_number → {"status": "delivered" | ...}

Messages: `payment_requested` starts it (thrown by deal_pipeline; variables deal_id, customer,
channel, contact, items, amount, delivery {method, address, branch}, bonus_percent?,
settings?); `payment_received` (correlation order_id; amount, payment_id) after the webhook
was verified; `shipment_status` (correlation order_id; status) from courier webhooks. It throws
`deal_event` (paid, shipped + track_number, delivered, payment_cancelled) to the deal; the
engine delivers it, so the tests start a real deal (deal_pipeline) to hear it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.errors import NotFoundError
from engine.models import utcnow
from tests.integration.processes.conftest import (
    MANAGER,
    WAREHOUSE,
    Driver,
    FakeOperators,
    close_to,
)

ITEMS = [
    {"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 6990.0, "weight": 6.5},
    {"sku": "GZ-550", "name": "Клипса", "qty": 10, "price": 50.0, "weight": 0.01},
]
CUSTOMER = {"name": "Иван", "phone": "+79131234567", "city": "Новосибирск"}
ORDER = {"order_id": "CO-00017"}


def _request(**extra: Any) -> dict[str, Any]:
    return {
        "deal_id": "D-TEST0001",
        "customer": CUSTOMER,
        "channel": "telegram",
        "contact": "tg-42",
        "items": ITEMS,
        "amount": 7490.0,
        "delivery": {"method": "cdek", "address": "Новосибирск, ул. Ленина, 1", "branch": ""},
        **extra,
    }


@pytest.fixture
def shop(fakes: FakeOperators) -> FakeOperators:
    """What the warehouse, YooKassa, loyalty and CDEK doubles would answer."""
    fakes.answer("warehouse.create_order", {**ORDER, "number": "00017"})
    fakes.answer(
        "payments.create_link",
        {"payment_id": "pay-1", "confirmation_url": "https://pay.example/checkout/pay-1"},
    )
    fakes.answer("loyalty.credit", {"balance": 1224.7})
    fakes.answer("courier.quote", {"price": 450.0, "delivery_dates": "3–5 дней"})
    fakes.answer(
        "courier.create_shipment", {"track_number": "1234567890", "delivery_dates": "2–4 дня"}
    )
    fakes.answer("courier.track", {"status": "in_transit"})
    return fakes


def _start(driver: Driver, **extra: Any) -> str:
    driver.deploy("payment_to_shipment.bpmn", "payment")
    return driver.deliver("payment_requested", variables=_request(**extra))["started"][0]


def _deal(driver: Driver) -> tuple[str, str]:
    """A deal (deal_pipeline) that hears deal_event for its deal_id: (instance, deal_id)."""
    driver.deploy("deal_pipeline.bpmn", "deal")
    variables = {"customer": CUSTOMER, "manager": "ivanov", "channel": "telegram"}
    [deal] = driver.deliver("deal_start", variables=variables)["started"]
    return deal, driver.variables(deal)["deal_id"]


def _heard(driver: Driver, deal: str) -> list[Any]:
    """The deal_event payloads the deal received (its boundary event's messageVariable)."""
    return driver.received(deal, "on_event", "deal_event")


def _sent(driver: Driver, instance_id: str) -> list[str | None]:
    """The names of the messages the instance sent, in order."""
    return [name for name, _ in driver.messages_sent(instance_id)]


def test_payment_writes_off_once_credits_3_percent_and_ships_by_cdek(
    driver: Driver, shop: FakeOperators
) -> None:
    deal, deal_id = _deal(driver)
    flow = _start(driver, deal_id=deal_id)
    assert shop.of("warehouse.create_order") == [
        {"deal_id": deal_id, "customer": CUSTOMER, "items": ITEMS, "amount": 7490.0}
    ]
    assert shop.of("payments.create_link") == [
        {
            "order_id": "CO-00017",
            "amount": 7490.0,
            "description": "Заказ 00017",
            "customer": CUSTOMER,
        }
    ]
    [link] = shop.of("notify.message")
    assert (link["channel"], link["contact"]) == ("telegram", "tg-42")
    assert "https://pay.example/checkout/pay-1" in link["text"] and "7490" in link["text"]
    assert "Ваш заказ 00017 " in link["text"]  # the number people read, not the warehouse id
    timers = driver.timers(flow)
    assert close_to(timers["remind"], utcnow() + timedelta(hours=24))
    assert close_to(timers["cancel"], utcnow() + timedelta(hours=72))

    paid = {"amount": "7490.00", "payment_id": "pay-1"}
    first = driver.deliver("payment_received", ORDER, paid, idempotency_key="yk-succeeded-1")
    again = driver.deliver("payment_received", ORDER, paid, idempotency_key="yk-succeeded-1")
    assert first == again == {"delivered_to": [flow], "started": []}
    with pytest.raises(NotFoundError):  # a late duplicate without a key finds nobody waiting
        driver.deliver("payment_received", ORDER, paid)

    assert shop.of("warehouse.write_off") == [{"order_id": "CO-00017", "items": ITEMS}]
    assert shop.of("warehouse.register_payment") == [
        {"order_id": "CO-00017", "amount": 7490.0, "payment_id": "pay-1"}
    ]
    assert shop.of("payments.create_receipt") == [
        {
            "payment_id": "pay-1",
            "order_id": "CO-00017",
            "amount": 7490.0,
            "items": ITEMS,
            "customer": CUSTOMER,
        }
    ]
    assert shop.of("loyalty.credit") == [
        {"phone": "+79131234567", "amount": 224.7, "order_id": "CO-00017"}
    ]
    [sms] = shop.of("notify.sms")
    assert sms["phone"] == "+79131234567"
    assert "224.7" in sms["text"] and "1224.7" in sms["text"]
    assert "получена" in shop.of("notify.message")[1]["text"]
    assert _sent(driver, flow) == ["deal_event"]
    assert _heard(driver, deal) == [{"deal_id": deal_id, "stage": "paid", "order_id": "CO-00017"}]
    assert (driver.variables(deal)["stage"], driver.variables(deal)["order_id"]) == (
        "paid",
        "CO-00017",
    )
    assert driver.timers(flow) == {}

    # The courier request is pre-filled from the deal; the warehouse only confirms.
    task = driver.task(flow, "confirm_shipment")
    assert task.lane == "warehouse"
    assert task.data["courier_request"] == {
        "carrier": "cdek",
        "recipient": "Иван",
        "phone": "+79131234567",
        "city": "Новосибирск",
        "address": "Новосибирск, ул. Ленина, 1",
        "branch": "",
        "weight": 6.6,
        "places": 1,
        "cod_amount": 0,
    }
    assert task.data["quote"]["delivery_dates"] == "3–5 дней"
    driver.complete(task, {**task.data, "shipment_weight": 7.2, "ready_to_ship": True}, WAREHOUSE)
    [shipment] = shop.of("courier.create_shipment")
    assert (shipment["cod_amount"], shipment["weight"], shipment["places"]) == (0, 7.2, 1)
    shipped = shop.of("notify.message")[2]["text"]
    assert "1234567890" in shipped and "СДЭК" in shipped and "2–4 дня" in shipped
    assert _sent(driver, flow) == ["deal_event", "deal_event"]
    assert _heard(driver, deal)[1] == {
        "deal_id": deal_id,
        "stage": "shipped",
        "order_id": "CO-00017",
        "track_number": "1234567890",
    }
    assert driver.variables(deal)["stage"] == "shipped"
    assert driver.variables(deal)["track_number"] == "1234567890"

    # No webhook for a while: the carrier is polled, the parcel is still on its way.
    assert driver.fire_timers(after=timedelta(hours=3)) == 1
    assert shop.of("courier.track") == [{"carrier": "cdek", "track_number": "1234567890"}]
    assert driver.active(flow) == ["poll", "wait_status"]

    driver.deliver("shipment_status", ORDER, {"status": "delivered"})
    finished = driver.instance(flow)
    assert finished.status == "completed"
    assert "отзыв" in shop.of("notify.message")[-1]["text"]
    assert _sent(driver, flow) == ["deal_event"] * 3
    assert [event["stage"] for event in _heard(driver, deal)] == ["paid", "shipped", "delivered"]
    won = driver.instance(deal)
    assert (won.status, won.variables["deal_result"]) == ("completed", "won")
    for once in (
        "warehouse.write_off",
        "warehouse.register_payment",
        "payments.create_receipt",
        "loyalty.credit",
        "notify.sms",
        "courier.create_shipment",
    ):
        assert len(shop.of(once)) == 1, once


def test_a_payment_that_beats_the_link_job_is_not_lost(driver: Driver, shop: FakeOperators) -> None:
    driver.deploy("payment_to_shipment.bpmn", "payment")
    started = driver.deliver("payment_requested", variables=_request(), run_jobs=False)
    [flow] = started["started"]
    driver.run_jobs(hold="notify.message")  # the link is being sent, slowly
    assert shop.of("notify.message") == []
    paid = {"amount": "7490.00", "payment_id": "pay-1"}
    assert driver.deliver("payment_received", ORDER, paid, run_jobs=False)["delivered_to"] == [flow]
    driver.run_jobs()
    assert len(shop.of("warehouse.write_off")) == 1
    assert driver.task(flow, "confirm_shipment").lane == "warehouse"


def test_unpaid_order_is_reminded_after_24_hours_and_cancelled_after_72(
    driver: Driver, shop: FakeOperators
) -> None:
    deal, deal_id = _deal(driver)
    flow = _start(driver, deal_id=deal_id)
    assert driver.fire_timers(after=timedelta(hours=25)) == 1
    reminder = shop.of("notify.message")[-1]["text"]
    assert "ждёт оплаты" in reminder and "pay-1" in reminder
    assert driver.fire_timers(after=timedelta(hours=73)) == 1
    assert shop.of("warehouse.cancel_order") == [{"order_id": "CO-00017", "reason": "not_paid"}]
    assert "отменён" in shop.of("notify.message")[-1]["text"]
    assert _sent(driver, flow) == ["deal_event"]
    assert _heard(driver, deal) == [
        {"deal_id": deal_id, "stage": "payment_cancelled", "order_id": "CO-00017"}
    ]
    lost = driver.instance(deal)
    assert (lost.status, lost.variables["deal_result"]) == ("completed", "lost")
    assert lost.variables["loss_reason"] == "Заказ не оплачен вовремя"
    assert driver.instance(flow).status == "completed"
    with pytest.raises(NotFoundError):
        driver.deliver("payment_received", ORDER, {"amount": "7490.00"})
    assert shop.of("warehouse.write_off") == []


def test_pickup_sends_the_address_of_the_customers_city_and_bonus_percent_is_a_variable(
    driver: Driver, shop: FakeOperators
) -> None:
    settings = {"pickup_points": {"Москва": "Тверская, 1", "Новосибирск": "ул. Петухова, 10"}}
    deal, deal_id = _deal(driver)
    flow = _start(
        driver,
        deal_id=deal_id,
        delivery={"method": "pickup"},
        bonus_percent=5,
        settings=settings,
        channel="sms",
        contact="+79131234567",
    )
    driver.deliver("payment_received", ORDER, {"amount": "7490.00", "payment_id": "pay-1"})
    assert shop.of("loyalty.credit")[0]["amount"] == 374.5
    ready = driver.task(flow, "ready_task")
    assert ready.lane == "warehouse" and ready.data["pickup_address"] == "ул. Петухова, 10"
    driver.complete(ready, {**ready.data, "ready_for_pickup": True}, WAREHOUSE)
    pickup = shop.of("notify.message")[-1]
    assert pickup["channel"] == "sms" and "ул. Петухова, 10" in pickup["text"]
    assert shop.of("courier.quote") == []
    handover = driver.task(flow, "handover_task")
    driver.complete(handover, {**handover.data, "handed_over": True}, WAREHOUSE)
    assert driver.instance(flow).status == "completed"
    assert _sent(driver, flow) == ["deal_event", "deal_event"]  # paid, delivered (no shipping)
    assert [event["stage"] for event in _heard(driver, deal)] == ["paid", "delivered"]
    assert driver.instance(deal).variables["deal_result"] == "won"


def test_the_deal_starts_the_payment_and_hears_that_it_was_paid(
    driver: Driver, shop: FakeOperators
) -> None:
    """deal_pipeline ↔ payment_to_shipment through their messages, delivered by the engine."""
    shop.answer("warehouse.check_stock", {"status": "confirmed"})
    driver.deploy("deal_pipeline.bpmn", "deal")
    driver.deploy("payment_to_shipment.bpmn", "payment")
    customer = {**CUSTOMER, "orders_count": 4}
    deal = driver.deliver(
        "deal_start",
        variables={
            "customer": customer,
            "manager": "ivanov",
            "channel": "telegram",
            "contact": "tg-42",
        },
    )
    deal_id = driver.variables(deal["started"][0])["deal_id"]
    deal_flow = deal["started"][0]
    task = driver.task(deal_flow, "stage_task")
    assert task.assignee == "ivanov"  # the responsible manager
    fields = {"items": ITEMS, "amount": 7490.0, "delivery_method": "pickup"}
    assert driver.instances("payment_to_shipment") == []
    driver.complete(task, {**task.data, **fields, "next_stage": "awaiting_payment"}, MANAGER)

    # payment_requested started the payment, in the same transaction as the deal's step
    assert _sent(driver, deal_flow) == ["payment_requested"]
    [payment] = driver.instances("payment_to_shipment")
    payment_flow = payment.id
    assert driver.variables(payment_flow)["deal_id"] == deal_id
    assert shop.of("warehouse.create_order")[0]["items"] == ITEMS

    driver.deliver("payment_received", ORDER, {"amount": "7490.00", "payment_id": "pay-1"})
    assert _sent(driver, payment_flow) == ["deal_event"]
    assert _heard(driver, deal_flow) == [
        {"deal_id": deal_id, "stage": "paid", "order_id": "CO-00017"}
    ]
    variables = driver.variables(deal_flow)
    assert (variables["stage"], variables["order_id"]) == ("paid", "CO-00017")
    assert driver.task(deal_flow, "stage_task").assignee == "ivanov"

    # The customer collects the order: the deal hears it and is won.
    ready = driver.task(payment_flow, "ready_task")
    driver.complete(ready, {**ready.data, "ready_for_pickup": True}, WAREHOUSE)
    handover = driver.task(payment_flow, "handover_task")
    driver.complete(handover, {**handover.data, "handed_over": True}, WAREHOUSE)
    assert driver.instance(payment_flow).status == "completed"
    won = driver.instance(deal_flow)
    assert (won.status, won.variables["deal_result"]) == ("completed", "won")

    # Each side's history says where its messages went.
    assert driver.messages_sent(deal_flow) == [
        ("payment_requested", {"delivered_to": [], "started": [payment_flow]})
    ]
    assert driver.messages_sent(payment_flow) == [
        ("deal_event", {"delivered_to": [deal_flow], "started": []}),
        ("deal_event", {"delivered_to": [deal_flow], "started": []}),
    ]
