"""Russian Post client on the wire: both auth headers, per-position errors, search first."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError
from connectors.russian_post import RussianPostClient, RussianPostConfig
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = RussianPostConfig(base_url="https://otpravka-api.pochta.ru", index_from="420000")
ORDER = {"order-num": "SHOP-1", "mass": 900, "index-to": "101000", "mail-type": "POSTAL_PARCEL"}


def make(transport: httpx.BaseTransport) -> RussianPostClient:
    return RussianPostClient(CONFIG, transport=transport)


def post_error(message: str) -> dict[str, Any]:
    return {"code": "1001", "desc": message}


test_contract = contract_test(
    Contract(
        name="calculate_tariff",
        make=make,
        call=lambda c: c.calculate_tariff(index_to="101000", mass=900),
        ok={"total-rate": 17500, "total-vat": 3500},
        error=post_error,
        check=lambda tariff: tariff["total-rate"] == 17500,
    ),
    Contract(
        name="get_shipment",
        make=make,
        call=lambda c: c.get_shipment(900000001),
        ok=ORDER | {"id": 900000001},
        error=post_error,
        check=lambda shipment: shipment["id"] == 900000001,
    ),
)


def test_headers_and_tariff_body() -> None:
    vendor = FakeVendor({"POST /1.0/tariff": {"total-rate": 1}})
    with make(vendor.transport()) as client:
        client.calculate_tariff(index_to="101000", mass=900, declared_value=150000)
    request = vendor.requests[0]
    user = base64.b64encode(b"shop@sandbox:sandbox-password").decode()
    assert request.headers["Authorization"] == "AccessToken sandbox-pochta-token"
    assert request.headers["X-User-Authorization"] == f"Basic {user}"
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert vendor.body(0) == {
        "index-from": "420000",
        "index-to": "101000",
        "mail-category": "ORDINARY",
        "mail-type": "POSTAL_PARCEL",
        "mass": 900,
        "declared-value": 150000,
    }


def test_create_puts_an_array_after_searching_for_the_number() -> None:
    vendor = FakeVendor(
        {
            "GET /1.0/backlog/search": [],
            "PUT /1.0/user/backlog": {"result-ids": [900000001], "errors": []},
            "GET /1.0/backlog/900000001": ORDER | {"id": 900000001},
        }
    )
    with make(vendor.transport()) as client:
        shipment = client.create_shipment(ORDER)
    assert shipment["id"] == 900000001
    assert vendor.requests[0].url.params["query"] == "SHOP-1"
    assert vendor.body(1) == [ORDER]


def test_create_returns_the_order_already_in_the_backlog() -> None:
    vendor = FakeVendor({"GET /1.0/backlog/search": [ORDER | {"id": 7}]})
    with make(vendor.transport()) as client:
        assert client.create_shipment(ORDER)["id"] == 7
    assert len(vendor.requests) == 1


def test_a_rejected_position_is_permanent_with_its_codes() -> None:
    rejected = {
        "result-ids": [],
        "errors": [{"error-codes": [{"code": "EMPTY_INDEX_TO", "description": "Нет индекса"}]}],
    }
    vendor = FakeVendor({"GET /1.0/backlog/search": [], "PUT /1.0/user/backlog": rejected})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.create_shipment(ORDER)
    assert caught.value.vendor_code == "EMPTY_INDEX_TO"
    assert caught.value.vendor_message == "Нет индекса"
