"""zzap client on the wire: credentials per account, ASMX wrappers, errors in 200s."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.zzap import ZzapClient, ZzapConfig, zzap_accounts
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = ZzapConfig(base_url="https://api.zzap.pro/webservice/datasharing.asmx", row_count=50)
ORDER = {"code_order": 7000001, "create_date": "01.06.2025 10:02:00", "partnumber": "8E0941003"}
ANSWER = {"error": "", "row_count": 1, "table": [ORDER]}


def make(transport: httpx.BaseTransport) -> ZzapClient:
    return ZzapClient(CONFIG, "auto3-second", transport=transport)


def zzap_error(message: str) -> dict[str, Any]:
    return {"error": message, "row_count": 0, "table": []}


test_contract = contract_test(
    Contract(
        name="seller_orders",
        make=make,
        call=lambda c: c.seller_orders(),
        ok=ANSWER,
        error=zzap_error,
        check=lambda rows: rows == [ORDER | {"account": "auto3-second"}],
    ),
)


def test_form_carries_the_accounts_credentials_and_dates() -> None:
    vendor = FakeVendor({"POST /GetSellerOrdersV3": ANSWER})
    with make(vendor.transport()) as client:
        client.seller_orders(date_from=datetime(2025, 6, 1, 9, 0))
    form = dict(httpx.QueryParams(vendor.requests[0].content.decode()))
    assert form == {
        "login": "auto3-second",
        "password": "sandbox-password-2",
        "api_key": "sandbox-api-key-2",
        "row_count": "50",
        "date_from": "01.06.2025 09:00:00",
        "date_to": "",
    }


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"d": json.dumps(ANSWER)}),
        f'<?xml version="1.0"?><string xmlns="https://www.zzap.ru/">{json.dumps(ANSWER)}</string>',
    ],
    ids=["d-wrapper", "xml-wrapper"],
)
def test_asmx_wrappers_are_unwrapped(content: str) -> None:
    vendor = FakeVendor({"POST /GetSellerOrdersV3": lambda r: httpx.Response(200, text=content)})
    with make(vendor.transport()) as client:
        assert client.seller_orders()[0]["code_order"] == 7000001


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Неверный логин", PermanentConnectorError),
        ("Превышен лимит запросов", TransientConnectorError),
    ],
)
def test_error_in_a_200(message: str, error: type[Exception]) -> None:
    vendor = FakeVendor({"POST /GetSellerOrdersV3": zzap_error(message)})
    with make(vendor.transport()) as client, pytest.raises(error, match=message):
        client.seller_orders()


def test_one_client_per_account() -> None:
    with zzap_accounts(CONFIG) as accounts:
        assert accounts.names() == ["auto3-main", "auto3-second"]
        assert {name: client.account for name, client in accounts} == {
            "auto3-main": "auto3-main",
            "auto3-second": "auto3-second",
        }
