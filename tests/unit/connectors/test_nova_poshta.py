"""Nova Poshta client on the wire: the envelope, success:false in a 200, waybill lookup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError
from connectors.nova_poshta import NovaPoshtaClient, NovaPoshtaConfig
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = NovaPoshtaConfig(base_url="https://api.novaposhta.ua/v2.0/json/")
WAREHOUSE = {"Ref": "w-1", "Description": "Відділення №1", "WarehouseStatus": "Working"}


def envelope(data: list[Any], errors: list[str] | None = None) -> dict[str, Any]:
    return {
        "success": not errors,
        "data": data,
        "errors": errors or [],
        "warnings": [],
        "errorCodes": ["20000100003"] if errors else [],
    }


def make(transport: httpx.BaseTransport) -> NovaPoshtaClient:
    return NovaPoshtaClient(CONFIG, transport=transport)


test_contract = contract_test(
    Contract(
        name="get_warehouses",
        make=make,
        call=lambda c: c.get_warehouses(city_name="Київ"),
        ok=envelope([WAREHOUSE]),
        error=lambda message: envelope([], [message]),
        check=lambda rows: rows == [WAREHOUSE],
    ),
    Contract(
        name="track",
        make=make,
        call=lambda c: c.track([("20450000000001", "380501234567")]),
        ok=envelope([{"Number": "20450000000001", "StatusCode": "9"}]),
        error=lambda message: envelope([], [message]),
        check=lambda rows: rows[0]["StatusCode"] == "9",
    ),
)


def test_every_call_posts_the_envelope_to_the_one_endpoint() -> None:
    vendor = FakeVendor({"POST /v2.0/json/": envelope([WAREHOUSE])})
    with make(vendor.transport()) as client:
        client.get_warehouses(city_ref="c-1", page=2, limit=50)
    assert str(vendor.requests[0].url) == "https://api.novaposhta.ua/v2.0/json/"
    assert vendor.body(0) == {
        "apiKey": "sandbox-novaposhta-key",
        "modelName": "Address",
        "calledMethod": "getWarehouses",
        "methodProperties": {"Page": "2", "Limit": "50", "Language": "UA", "CityRef": "c-1"},
    }


def test_success_false_in_a_200_is_permanent_with_texts_and_code() -> None:
    vendor = FakeVendor({"POST /v2.0/json/": envelope([], ["API auth fail"])})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.get_warehouses()
    assert caught.value.status_code == 200
    assert caught.value.vendor_message == "API auth fail"
    assert caught.value.vendor_code == "20000100003"


def test_waybill_carries_sender_defaults_and_our_number() -> None:
    saved = {"Ref": "r-1", "IntDocNumber": "20450000000001", "CostOnSite": 75}
    answers = iter([envelope([]), envelope([saved])])
    vendor = FakeVendor({"POST /v2.0/json/": lambda r: httpx.Response(200, json=next(answers))})
    with make(vendor.transport()) as client:
        waybill = client.create_waybill("SHOP-42", {"DateTime": "01.06.2025", "Weight": "1"})
    assert waybill == saved
    lookup, save = vendor.body(0), vendor.body(1)
    assert lookup["calledMethod"] == "getDocumentList"
    assert lookup["methodProperties"]["DateTimeFrom"] == "01.06.2025"
    assert save["methodProperties"]["InfoRegClientBarcodes"] == "SHOP-42"
    assert save["methodProperties"]["Sender"] == CONFIG.sender_ref
    assert save["methodProperties"]["Weight"] == "1"


def test_waybill_found_by_our_number_is_not_created_again() -> None:
    found = {"Ref": "r-1", "IntDocNumber": "2045", "InfoRegClientBarcodes": "SHOP-42"}
    vendor = FakeVendor({"POST /v2.0/json/": envelope([found])})
    with make(vendor.transport()) as client:
        assert client.create_waybill("SHOP-42", {"DateTime": "01.06.2025"}) == found
    assert len(vendor.requests) == 1
