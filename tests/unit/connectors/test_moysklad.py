"""MoySklad client on the wire: auth and gzip headers, syncId, meta references, error shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.moysklad import MoySkladClient, MoySkladConfig, OrderLine
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

BASE = "https://api.moysklad.ru/api/remap/1.2"
CONFIG = MoySkladConfig(base_url=BASE, webhook_disable_prefix="https://shop.example/hooks")
LINE = OrderLine(product_id="p-1", quantity=2, price=150000)
STATE_META = {"href": f"{BASE}/entity/customerorder/metadata/states/s-2", "type": "state"}
METADATA = {
    "states": [
        {"meta": STATE_META, "name": "Подтвержден", "stateType": "Regular"},
        {"meta": {"href": f"{BASE}/entity/customerorder/metadata/states/s-9"}, "name": "Отменен"},
    ]
}


def make(transport: httpx.BaseTransport) -> MoySkladClient:
    return MoySkladClient(CONFIG, transport=transport)


def moysklad_error(message: str) -> dict[str, Any]:
    return {"errors": [{"error": message, "code": 3000, "parameter": "agent"}]}


test_contract = contract_test(
    Contract(
        name="create_order",
        make=make,
        call=lambda client: client.create_order(sync_id="sync-1", lines=[LINE]),
        ok={"id": "o-1", "name": "00001", "sum": 300000},
        error=moysklad_error,
        check=lambda order: order["id"] == "o-1",
        rate_limit_headers={"X-Lognex-Retry-After": "1500"},
        retry_after=1.5,
    ),
    Contract(
        name="stock",
        make=make,
        call=lambda client: client.stock(),
        ok={"rows": [{"name": "Кроссовки", "stock": 3.0, "reserve": 1.0, "quantity": 2.0}]},
        error=moysklad_error,
        check=lambda rows: rows[0]["quantity"] == 2.0,
    ),
)


def test_create_order_sends_sync_id_reserve_and_references() -> None:
    vendor = FakeVendor({"POST /entity/customerorder": {"id": "o-1"}})
    with make(vendor.transport()) as client:
        client.create_order(sync_id="sync-1", lines=[LINE], description="Deal 42")
    request = vendor.requests[0]
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["Authorization"] == "Bearer sandbox-moysklad-token"
    assert request.headers["X-Lognex-WebHook-DisableByPrefix"] == "https://shop.example/hooks"
    body = vendor.body(0)
    assert body["syncId"] == "sync-1"
    assert body["description"] == "Deal 42"
    assert body["organization"]["meta"]["type"] == "organization"
    position = body["positions"][0]
    assert position["reserve"] == 2 and position["price"] == 150000
    assert position["assortment"]["meta"]["href"] == f"{BASE}/entity/product/p-1"


def test_set_order_state_resolves_the_name_once() -> None:
    vendor = FakeVendor(
        {"GET /customerorder/metadata": METADATA, "PUT /entity/customerorder/o-1": {"id": "o-1"}}
    )
    with make(vendor.transport()) as client:
        client.set_order_state("o-1", "Подтвержден")
        client.set_order_state("o-1", "Подтвержден")
    assert vendor.paths().count("GET /api/remap/1.2/entity/customerorder/metadata") == 1
    assert vendor.body(1) == {"state": {"meta": STATE_META}}


def test_unknown_state_is_permanent() -> None:
    vendor = FakeVendor({"GET /customerorder/metadata": METADATA})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.set_order_state("o-1", "Нет такого")
    assert "Нет такого" in str(caught.value)


def test_cancel_order_releases_every_reserve() -> None:
    rows = {"rows": [{"id": "r1", "quantity": 2, "price": 10, "reserve": 2, "assortment": {}}]}
    vendor = FakeVendor(
        {
            "GET /o-1/positions": rows,
            "GET /customerorder/metadata": METADATA,
            "PUT /entity/customerorder/o-1": {"id": "o-1"},
        }
    )
    with make(vendor.transport()) as client:
        client.cancel_order("o-1")
    body = vendor.body(2)
    assert body["positions"] == [{"quantity": 2, "price": 10, "assortment": {}, "reserve": 0}]
    assert body["state"]["meta"]["href"].endswith("/s-9")


def test_demand_posts_the_prefilled_template_with_sync_id() -> None:
    template = {
        "organization": {"meta": {}},
        "agent": {"meta": {}},
        "positions": {"meta": {}, "rows": [{"quantity": 2, "assortment": {}}]},
    }
    vendor = FakeVendor({"PUT /entity/demand/new": template, "POST /entity/demand": {"id": "d-1"}})
    with make(vendor.transport()) as client:
        demand = client.create_demand("o-1", sync_id="sync-d")
    assert demand == {"id": "d-1"}
    assert vendor.body(0)["customerOrder"]["meta"]["href"] == f"{BASE}/entity/customerorder/o-1"
    posted = vendor.body(1)
    assert posted["syncId"] == "sync-d"
    assert posted["positions"] == [{"quantity": 2, "assortment": {}}]
    assert posted["store"]["meta"]["type"] == "store"


def test_payment_in_links_the_order_with_the_given_sum() -> None:
    order_meta = {"href": f"{BASE}/entity/customerorder/o-1"}
    template = {"sum": 300000, "operations": [{"meta": order_meta, "linkedSum": 300000}]}
    vendor = FakeVendor(
        {"PUT /entity/paymentin/new": template, "POST /entity/paymentin": {"id": "pi-1"}}
    )
    with make(vendor.transport()) as client:
        client.create_payment_in("o-1", sync_id="sync-p", amount=100000, purpose="YooKassa 2f")
    posted = vendor.body(1)
    assert posted["sum"] == 100000
    assert posted["operations"] == [{"meta": order_meta, "linkedSum": 100000}]
    assert posted["paymentPurpose"] == "YooKassa 2f"
    assert posted["syncId"] == "sync-p"


def test_register_webhook_reuses_an_identical_one() -> None:
    existing = {"url": "https://h/x", "action": "UPDATE", "entityType": "customerorder", "id": "w"}
    vendor = FakeVendor({"GET /entity/webhook": {"rows": [existing]}})
    with make(vendor.transport()) as client:
        hook = client.register_webhook(
            url="https://h/x", action="UPDATE", entity_type="customerorder"
        )
    assert hook["id"] == "w"
    assert vendor.paths() == ["GET /api/remap/1.2/entity/webhook"]


def test_parallel_limit_code_is_transient_even_without_429() -> None:
    vendor = FakeVendor(
        {"GET /report/stock/all": (403, {"errors": [{"error": "parallel", "code": 1073}]})}
    )
    with make(vendor.transport()) as client, pytest.raises(TransientConnectorError) as caught:
        client.stock()
    assert caught.value.vendor_code == "1073"


def test_415_with_an_empty_body_keeps_the_reason() -> None:
    vendor = FakeVendor({"GET /report/stock/all": lambda request: httpx.Response(415)})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.stock()
    assert caught.value.status_code == 415
    assert caught.value.vendor_message == "Unsupported Media Type"
