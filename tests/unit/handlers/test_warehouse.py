"""Warehouse handlers against a mocked MoySklad: the documents they send, and their failures."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.moysklad.config import RETAIL_AGENT_ID
from engine.jobs import is_transient
from engine.operators import HandlerContext
from handlers import warehouse
from handlers.base import HandlerRefusal
from handlers.clients import Clients
from tests.unit.handlers.conftest import FakeVendor, context

BASE = "http://127.0.0.1:8000/sandbox/moysklad/api/remap/1.2"
ITEMS = [
    {"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 6990.0, "weight": 6.5},
    {"sku": "GZ-550", "name": "Клипса", "qty": 10, "price": 50.0, "weight": 0.01},
]
CUSTOMER = {"name": "Иван", "phone": "+7 (913) 123-45-67", "city": "Новосибирск"}


def _row(product_id: str, code: str, free: float) -> dict[str, Any]:
    href = f"{BASE}/entity/product/{product_id}?expand=supplier"
    return {
        "meta": {"href": href, "type": "product"},
        "code": code,
        "article": f"A-{code}",
        "name": code,
        "stock": free + 1,
        "reserve": 1,
        "quantity": free,
    }


def _order_answer(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    total = sum(p["price"] * p["quantity"] for p in sent["positions"])
    order = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, sent["syncId"])),
        "name": "00017",
        "sum": total,
        "reservedSum": total,
        "syncId": sent["syncId"],
    }
    return httpx.Response(200, json=order)


@pytest.fixture
def moysklad(vendor: FakeVendor) -> FakeVendor:
    vendor.on(
        "GET", "/report/stock/all", {"rows": [_row("P1", "GZ-101", 3), _row("P2", "GZ-550", 5)]}
    )
    vendor.on("POST", "/entity/counterparty", {"id": "C1", "name": "Иван"})
    vendor.on("POST", "/entity/customerorder", _order_answer)
    return vendor


def test_create_order_reserves_every_line_in_kopecks(
    moysklad: FakeVendor, ctx: HandlerContext
) -> None:
    result = warehouse.create_order(
        ctx=ctx, deal_id="D-TEST0001", customer=CUSTOMER, items=ITEMS, amount="7490.00"
    )
    (order,) = moysklad.sent("POST", "/entity/customerorder")
    assert uuid.UUID(order["syncId"])  # MoySklad wants a UUID
    assert order["organization"]["meta"]["type"] == "organization"
    assert order["agent"]["meta"]["href"] == f"{BASE}/entity/counterparty/C1"
    assert order["store"]["meta"]["type"] == "store"
    assert [p["assortment"]["meta"]["href"] for p in order["positions"]] == [
        f"{BASE}/entity/product/P1",
        f"{BASE}/entity/product/P2",
    ]
    assert [(p["quantity"], p["price"], p["reserve"]) for p in order["positions"]] == [
        (1.0, 699000, 1.0),
        (10.0, 5000, 10.0),
    ]
    assert order["description"] == "Сделка D-TEST0001"
    assert result["sum"] == 7490.0 and result["amount_matches"] is True
    assert result["order_id"] and result["number"] == "00017"
    (counterparty,) = moysklad.sent("POST", "/entity/counterparty")
    assert counterparty["phone"] == "+79131234567" and uuid.UUID(counterparty["syncId"])


def test_create_order_sends_the_same_sync_id_when_the_job_runs_again(
    moysklad: FakeVendor, clients: Clients
) -> None:
    first = warehouse.create_order(
        ctx=context(clients), deal_id="D-1", customer=CUSTOMER, items=ITEMS
    )
    again = warehouse.create_order(
        ctx=context(clients), deal_id="D-1", customer=CUSTOMER, items=ITEMS
    )
    other = warehouse.create_order(
        ctx=context(clients, task="task-2"), deal_id="D-1", customer=CUSTOMER, items=ITEMS
    )
    sync_ids = [body["syncId"] for body in moysklad.sent("POST", "/entity/customerorder")]
    assert sync_ids[0] == sync_ids[1] != sync_ids[2]
    assert first["order_id"] == again["order_id"] != other["order_id"]


def test_create_order_matches_products_by_article_and_id(
    moysklad: FakeVendor, ctx: HandlerContext
) -> None:
    items = [{"sku": "A-GZ-101", "qty": 2, "price": 1}, {"product_id": "P2", "qty": 1, "price": 1}]
    warehouse.create_order(ctx=ctx, deal_id="D-1", customer={}, items=items)
    (order,) = moysklad.sent("POST", "/entity/customerorder")
    assert [p["assortment"]["meta"]["href"].rsplit("/", 1)[1] for p in order["positions"]] == [
        "P1",
        "P2",
    ]
    # no phone: MoySklad's retail customer, no counterparty created
    assert moysklad.calls("POST", "/entity/counterparty") == []
    assert order["agent"]["meta"]["href"] == f"{BASE}/entity/counterparty/{RETAIL_AGENT_ID}"


def test_create_order_refuses_an_unknown_product(moysklad: FakeVendor, ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal) as caught:
        warehouse.create_order(
            ctx=ctx, deal_id="D-1", customer=CUSTOMER, items=[{"sku": "NOPE", "qty": 1}]
        )
    assert caught.value.code == "unknown_product" and not is_transient(caught.value)
    assert moysklad.calls("POST", "/entity/customerorder") == []


def test_check_stock_confirms_or_asks_for_clarification(
    moysklad: FakeVendor, ctx: HandlerContext
) -> None:
    enough = warehouse.check_stock(ctx=ctx, deal_id="D-1", items=[{"sku": "GZ-101", "qty": 3}])
    assert enough["status"] == "confirmed" and enough["missing"] == []
    short = warehouse.check_stock(
        ctx=ctx,
        deal_id="D-1",
        items=[{"sku": "GZ-101", "name": "Бампер", "qty": 4}, {"sku": "??", "name": "Фара"}],
    )
    assert short["status"] == "needs_clarification"
    assert short["missing"] == ["Бампер", "Фара"]
    assert short["lines"][0] == {
        "sku": "GZ-101",
        "name": "Бампер",
        "wanted": 4.0,
        "free": 3.0,
        "ok": False,
    }


def test_write_off_posts_a_demand_linked_to_the_order(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    order_meta = {"href": f"{BASE}/entity/customerorder/O1", "type": "customerorder"}
    template = {
        "organization": {"meta": {"href": f"{BASE}/entity/organization/ORG"}},
        "agent": {"meta": {"href": f"{BASE}/entity/counterparty/C1"}},
        "customerOrder": {"meta": order_meta},
        "positions": {"rows": [{"quantity": 1, "price": 699000, "assortment": {"meta": {}}}]},
    }
    vendor.on("PUT", "/entity/demand/new", template)
    vendor.on("POST", "/entity/demand", {"id": "DM1", "name": "00003", "sum": 699000})
    result = warehouse.write_off(ctx=ctx, order_id="O1", items=ITEMS)
    (asked,) = vendor.sent("PUT", "/entity/demand/new")
    assert asked == {"customerOrder": {"meta": order_meta | {"mediaType": "application/json"}}}
    (demand,) = vendor.sent("POST", "/entity/demand")
    assert demand["customerOrder"]["meta"]["href"].endswith("/customerorder/O1")
    assert demand["positions"] == template["positions"]["rows"]  # type: ignore[index]
    assert uuid.UUID(demand["syncId"]) and demand["store"]["meta"]["type"] == "store"
    assert result == {
        "demand_id": "DM1",
        "number": "00003",
        "sum": 6990.0,
        "order_id": "O1",
        "positions": 2,
    }


def test_register_payment_posts_a_linked_paymentin_in_kopecks(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    order_meta = {"href": f"{BASE}/entity/customerorder/O1", "type": "customerorder"}
    vendor.on("PUT", "/entity/paymentin/new", {"operations": [{"meta": order_meta}], "sum": 1})
    vendor.on("POST", "/entity/paymentin", {"id": "PI1", "name": "00001", "sum": 749000})
    result = warehouse.register_payment(ctx=ctx, order_id="O1", amount=7490.0, payment_id="pay-1")
    (payment,) = vendor.sent("POST", "/entity/paymentin")
    assert payment["sum"] == 749000
    assert payment["operations"] == [{"meta": order_meta, "linkedSum": 749000}]
    assert "pay-1" in payment["paymentPurpose"] and uuid.UUID(payment["syncId"])
    assert result == {"payment_in_id": "PI1", "number": "00001", "sum": 7490.0, "order_id": "O1"}


def test_cancel_order_sets_the_cancel_state_and_releases_the_reserve(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    cancelled = {"meta": {"href": f"{BASE}/entity/customerorder/metadata/states/S7"}}
    vendor.on(
        "GET", "/entity/customerorder/metadata", {"states": [cancelled | {"name": "Отменен"}]}
    )
    rows = [{"quantity": 2, "price": 100, "reserve": 2, "assortment": {"meta": {"href": "p"}}}]
    vendor.on("GET", "/entity/customerorder/O1/positions", {"rows": rows})
    vendor.on("PUT", "/entity/customerorder/O1", {"id": "O1", "reservedSum": 0})
    result = warehouse.cancel_order(ctx=ctx, order_id="O1", reason="not_paid")
    (update,) = vendor.sent("PUT", "/entity/customerorder/O1")
    assert update["state"] == {"meta": cancelled["meta"]}
    assert [p["reserve"] for p in update["positions"]] == [0]
    assert result == {
        "order_id": "O1",
        "state": "Отменен",
        "reserved_sum": 0.0,
        "reason": "not_paid",
    }


CALLS = {
    "create_order": lambda ctx: warehouse.create_order(
        ctx=ctx, deal_id="D-1", customer=CUSTOMER, items=ITEMS
    ),
    "check_stock": lambda ctx: warehouse.check_stock(ctx=ctx, deal_id="D-1", items=ITEMS),
    "write_off": lambda ctx: warehouse.write_off(ctx=ctx, order_id="O1"),
    "register_payment": lambda ctx: warehouse.register_payment(ctx=ctx, order_id="O1", amount=1),
    "cancel_order": lambda ctx: warehouse.cancel_order(ctx=ctx, order_id="O1"),
}
MOYSKLAD_ERROR = {"errors": [{"error": "Ошибка сохранения объекта", "code": 3000}]}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_vendor_5xx_is_transient(name: str, vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.fail(503, MOYSKLAD_ERROR)
    with pytest.raises(TransientConnectorError) as caught:
        CALLS[name](ctx)
    assert is_transient(caught.value) and caught.value.status_code == 503


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_vendor_4xx_is_permanent_with_its_message(
    name: str, vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.fail(400, MOYSKLAD_ERROR)
    with pytest.raises(PermanentConnectorError) as caught:
        CALLS[name](ctx)
    assert not is_transient(caught.value)
    assert caught.value.vendor_message == "Ошибка сохранения объекта"
    assert caught.value.vendor_code == "3000"
