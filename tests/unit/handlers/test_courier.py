"""Courier handlers against mocked CDEK, Russian Post and Nova Poshta."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from engine.jobs import is_transient
from engine.operators import HandlerContext
from handlers import courier
from handlers.base import HandlerRefusal
from tests.unit.handlers.conftest import FakeVendor

ITEMS = [
    {"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 6990.0, "weight": 6.5},
    {"sku": "GZ-550", "name": "Клипса", "qty": 10, "price": 50.0, "weight": 0.01},
]
REQUEST = {
    "recipient": "Иван Петров",
    "phone": "+7 913 123-45-67",
    "city": "Новосибирск",
    "address": "630099, Новосибирск, ул. Ленина, 1",
    "branch": "",
    "weight": 6.6,
    "places": 1,
    "cod_amount": 0,
    "items": ITEMS,
}
TOKEN = {"access_token": "cdek-token", "token_type": "bearer", "expires_in": 3600}
REGISTERED = {
    "entity": {
        "uuid": "U1",
        "number": "O1",
        "cdek_number": "1106000001",
        "statuses": [{"code": "CREATED", "name": "Создан", "date_time": "2026-01-01T10:00:00"}],
    },
    "requests": [{"request_uuid": "R1", "type": "CREATE", "state": "SUCCESSFUL"}],
}


def _cdek(vendor: FakeVendor) -> None:
    vendor.on("POST", "/oauth/token", TOKEN)

    def orders(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cdek_number") == "1106000001":
            return httpx.Response(200, json=REGISTERED)
        error = {"requests": [{"state": "INVALID", "errors": [{"code": "v2_entity_not_found"}]}]}
        return httpx.Response(404, json=error)

    vendor.on("GET", "/v2/orders", orders)
    accepted = {"entity": {"uuid": "U1"}, "requests": [{"type": "CREATE", "state": "ACCEPTED"}]}
    vendor.on("POST", "/v2/orders", accepted, status=202)
    vendor.on("GET", "/v2/orders/U1", REGISTERED)


def test_cdek_quote_asks_the_tariff_in_grams(vendor: FakeVendor, ctx: HandlerContext) -> None:
    _cdek(vendor)
    tariff = {"delivery_sum": 610.0, "total_sum": 610.0, "period_min": 3, "period_max": 5}
    vendor.on("POST", "/calculator/tariff", tariff | {"currency": "RUB"})
    result = courier.quote(ctx=ctx, carrier="cdek", city="Новосибирск", weight=6.6)
    (body,) = vendor.sent("POST", "/calculator/tariff")
    assert body == {
        "tariff_code": 137,
        "from_location": {"city": "Москва"},
        "to_location": {"city": "Новосибирск"},
        "packages": [{"weight": 6600, "length": 30, "width": 20, "height": 20}],
    }
    start, end = date.today() + timedelta(days=3), date.today() + timedelta(days=5)
    assert result["price"] == 610.0 and result["carrier"] == "cdek"
    assert result["delivery_dates"] == f"{start:%d.%m.%Y}–{end:%d.%m.%Y}"


def test_cdek_shipment_is_prefilled_prepaid_and_looked_up_first(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    _cdek(vendor)
    result = courier.create_shipment(ctx=ctx, carrier="cdek", order_id="O1", **REQUEST)
    lookup = vendor.calls("GET", "/v2/orders")[0]
    assert lookup.url.params["im_number"] == "O1"  # no re-create of an existing order
    (order,) = vendor.sent("POST", "/v2/orders")
    assert order["type"] == 1 and order["number"] == "O1" and order["tariff_code"] == 137
    assert order["to_location"] == {"city": "Новосибирск", "address": REQUEST["address"]}
    assert order["recipient"] == {"name": "Иван Петров", "phones": [{"number": "+79131234567"}]}
    (package,) = order["packages"]
    assert package["weight"] == 6600
    assert [(i["ware_key"], i["payment"], i["cost"], i["amount"]) for i in package["items"]] == [
        ("GZ-101", {"value": 0.0}, 6990.0, 1.0),
        ("GZ-550", {"value": 0.0}, 50.0, 10.0),
    ]
    assert result["track_number"] == "1106000001" and result["shipment_id"] == "U1"


def test_cdek_cash_on_delivery_is_spread_over_the_items(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    _cdek(vendor)
    courier.create_shipment(
        ctx=ctx, carrier="cdek", order_id="O1", **(REQUEST | {"cod_amount": 7490, "places": 2})
    )
    (order,) = vendor.sent("POST", "/v2/orders")
    first, second = order["packages"]
    assert [i["payment"]["value"] for i in first["items"]] == [6990.0, 50.0]
    assert first["weight"] == second["weight"] == 3300 and "items" not in second


def test_cdek_point_delivery_uses_the_point_tariff(vendor: FakeVendor, ctx: HandlerContext) -> None:
    _cdek(vendor)
    courier.create_shipment(
        ctx=ctx, carrier="cdek", order_id="O1", **(REQUEST | {"branch": "NSK12"})
    )
    (order,) = vendor.sent("POST", "/v2/orders")
    assert order["delivery_point"] == "NSK12" and order["tariff_code"] == 136
    assert "to_location" not in order


def test_cdek_track_reads_the_newest_status(vendor: FakeVendor, ctx: HandlerContext) -> None:
    _cdek(vendor)
    result = courier.track(ctx=ctx, carrier="cdek", track_number="1106000001")
    assert result["status"] == "created" and result["vendor_status"] == "Создан"
    assert courier.cdek_status("DELIVERED") == "delivered"
    assert courier.cdek_status("SOMETHING_NEW") == "in_transit"


def test_russian_post_shipment_and_quote(vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.on("GET", "/1.0/backlog/search", [])
    vendor.on("PUT", "/1.0/user/backlog", {"result-ids": [900000001], "errors": []})
    vendor.on("GET", "/1.0/backlog/900000001", {"id": 900000001, "order-num": "O1"})
    tariff = {
        "total-rate": 20000,
        "total-vat": 4000,
        "delivery-time": {"min-days": 2, "max-days": 6},
    }
    vendor.on("POST", "/1.0/tariff", tariff)
    shipped = courier.create_shipment(ctx=ctx, carrier="russian_post", order_id="O1", **REQUEST)
    ((order,),) = vendor.sent("PUT", "/1.0/user/backlog")
    assert order["order-num"] == "O1" and order["index-to"] == "630099"
    assert (order["given-name"], order["surname"]) == ("Иван", "Петров")
    assert order["mass"] == 6600 and order["tel-address"] == 79131234567
    assert shipped["track_number"] == "900000001"
    quoted = courier.quote(ctx=ctx, carrier="russian_post", address=REQUEST["address"], weight=1)
    assert quoted["price"] == 240.0
    assert vendor.sent("POST", "/1.0/tariff")[0]["index-to"] == "630099"


def test_russian_post_needs_an_index_and_no_cod(vendor: FakeVendor, ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal) as no_index:
        courier.quote(ctx=ctx, carrier="russian_post", address="ул. Ленина, 1", weight=1)
    assert no_index.value.code == "no_postal_index"
    with pytest.raises(HandlerRefusal) as cod:
        courier.create_shipment(
            ctx=ctx, carrier="russian_post", order_id="O1", **(REQUEST | {"cod_amount": 10})
        )
    assert cod.value.code == "cod_not_supported"


BRANCH = {
    "Ref": "BR-2",
    "Number": "2",
    "Description": "Відділення №2: вул. Богатирська, 11",
    "CityRef": "CITY-KYIV",
    "WarehouseStatus": "Working",
}


def _nova_poshta(vendor: FakeVendor, branch: dict[str, Any] = BRANCH) -> None:
    recipient = {"Ref": "RC-1", "ContactPerson": {"data": [{"Ref": "CP-1"}]}}
    answers = {
        "getWarehouses": [branch],
        "save": [recipient],
        "getDocumentList": [],
        "getStatusDocuments": [
            {"Number": "20450000000001", "StatusCode": "9", "Status": "Отримано"}
        ],
    }

    def endpoint(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["modelName"] == "InternetDocument" and body["calledMethod"] == "save":
            waybill = {"Ref": "WB-1", "IntDocNumber": "20450000000001", "CostOnSite": 100}
            return httpx.Response(
                200,
                json={"success": True, "data": [waybill | {"EstimatedDeliveryDate": "05.01.2026"}]},
            )
        return httpx.Response(200, json={"success": True, "data": answers[body["calledMethod"]]})

    vendor.on("POST", "/v2.0/json/", endpoint)


def test_nova_poshta_waybill_goes_to_the_named_branch(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    _nova_poshta(vendor)
    result = courier.create_shipment(
        ctx=ctx,
        carrier="nova_poshta",
        order_id="O1",
        **(REQUEST | {"city": "Київ", "branch": "Відділення №2", "cod_amount": 100}),
    )
    calls = [
        (b["modelName"], b["calledMethod"], b["methodProperties"])
        for b in vendor.sent("POST", "/json/")
    ]
    waybill = next(
        props for model, method, props in calls if method == "save" and model == "InternetDocument"
    )
    assert waybill["RecipientAddress"] == "BR-2" and waybill["CityRecipient"] == "CITY-KYIV"
    assert waybill["Recipient"] == "RC-1" and waybill["ContactRecipient"] == "CP-1"
    assert (
        waybill["InfoRegClientBarcodes"] == "O1" and waybill["ServiceType"] == "WarehouseWarehouse"
    )
    assert waybill["BackwardDeliveryData"][0]["RedeliveryString"] == "100.00"
    assert result["track_number"] == "20450000000001"
    assert result["delivery_dates"] == "05.01.2026"
    tracked = courier.track(ctx=ctx, carrier="nova_poshta", track_number="20450000000001")
    assert tracked["status"] == "delivered"


def test_nova_poshta_refuses_a_closed_branch(vendor: FakeVendor, ctx: HandlerContext) -> None:
    _nova_poshta(vendor, BRANCH | {"WarehouseStatus": "Closed"})
    with pytest.raises(HandlerRefusal) as caught:
        courier.quote(ctx=ctx, carrier="nova_poshta", city="Київ", branch="2", weight=1)
    assert caught.value.code == "branch_closed"


def test_own_courier_and_pickup_need_no_vendor(vendor: FakeVendor, ctx: HandlerContext) -> None:
    quoted = courier.quote(ctx=ctx, carrier="courier", city="Минск", weight=2)
    first = date.today() + timedelta(days=2)
    assert quoted["price"] == 300.0 and quoted["delivery_from"] == first.isoformat()
    assert quoted["available_dates"][0] == first.isoformat() and len(quoted["available_dates"]) == 5
    shipped = courier.create_shipment(ctx=ctx, carrier="courier", order_id="O1", **REQUEST)
    assert shipped["track_number"] == "O1"
    assert courier.track(ctx=ctx, carrier="pickup", track_number="O1")["status"] == "unknown"
    assert vendor.requests == []


def test_an_unknown_carrier_is_refused(ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal) as caught:
        courier.quote(ctx=ctx, carrier="dhl", weight=1)
    assert caught.value.code == "unknown_carrier"


CALLS: dict[str, Callable[[HandlerContext], Any]] = {
    "quote cdek": lambda ctx: courier.quote(ctx=ctx, carrier="cdek", city="Омск", weight=1),
    "ship cdek": lambda ctx: courier.create_shipment(
        ctx=ctx, carrier="cdek", order_id="O1", **REQUEST
    ),
    "track cdek": lambda ctx: courier.track(ctx=ctx, carrier="cdek", track_number="1"),
    "ship russian_post": lambda ctx: courier.create_shipment(
        ctx=ctx, carrier="russian_post", order_id="O1", **REQUEST
    ),
    "track nova_poshta": lambda ctx: courier.track(
        ctx=ctx, carrier="nova_poshta", track_number="1"
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_vendor_5xx_is_transient(name: str, vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.fail(502)
    with pytest.raises(TransientConnectorError) as caught:
        CALLS[name](ctx)
    assert is_transient(caught.value)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_vendor_4xx_is_permanent(name: str, vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.fail(403, {"message": "forbidden"})
    with pytest.raises(PermanentConnectorError) as caught:
        CALLS[name](ctx)
    assert not is_transient(caught.value)
