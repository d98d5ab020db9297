"""SMS clients on the wire: SMS.ru and SMSC forms, errors inside 200 answers, states."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.sms import SmscClient, SmsConfig, SmsRuClient, SmsSent, make_sms_client
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

SMSRU = SmsConfig(base_url="https://sms.ru", sender="Shop", test=True)
SMSC = SmsConfig(base_url="https://smsc.ru", provider="smsc")
PHONE = "+7 (999) 123-45-67"
SENT = {
    "status": "OK",
    "status_code": 100,
    "sms": {"79991234567": {"status": "OK", "status_code": 100, "sms_id": "202500-1"}},
    "balance": 996.5,
}


def smsru(transport: httpx.BaseTransport) -> SmsRuClient:
    return SmsRuClient(SMSRU, transport=transport)


def smsc(transport: httpx.BaseTransport) -> SmscClient:
    return SmscClient(SMSC, transport=transport)


def smsru_error(message: str) -> dict[str, Any]:
    return {"status": "ERROR", "status_code": 200, "status_text": message}


test_contract = contract_test(
    Contract(
        name="smsru_send",
        make=smsru,
        call=lambda c: c.send(PHONE, "Ваш заказ оплачен"),
        ok=SENT,
        error=smsru_error,
        check=lambda sent: sent == SmsSent("202500-1", "79991234567"),
    ),
    Contract(
        name="smsc_send",
        make=smsc,
        call=lambda c: c.send(PHONE, "Ваш заказ оплачен", message_id="77"),
        ok={"id": 77, "cnt": 1},
        error=lambda message: {"error": message, "error_code": 1},
        check=lambda sent: sent == SmsSent("77", "79991234567"),
    ),
)


def test_smsru_form_has_api_id_json_sender_and_test() -> None:
    vendor = FakeVendor({"POST /sms/send": SENT})
    with smsru(vendor.transport()) as client:
        client.send(PHONE, "Привет")
    form = dict(httpx.QueryParams(vendor.requests[0].content.decode()))
    assert form == {
        "api_id": "sandbox-smsru-api-id",
        "json": "1",
        "to": "79991234567",
        "msg": "Привет",
        "from": "Shop",
        "test": "1",
    }


def test_smsru_refused_number_is_permanent_and_unavailable_is_transient() -> None:
    refused = {
        "status": "OK",
        "status_code": 100,
        "sms": {
            "79991234567": {
                "status": "ERROR",
                "status_code": 207,
                "status_text": "Нельзя отправлять",
            }
        },
    }
    vendor = FakeVendor({"POST /sms/send": refused})
    with smsru(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.send(PHONE, "x")
    assert (caught.value.vendor_message, caught.value.vendor_code) == ("Нельзя отправлять", "207")
    down = {"status": "ERROR", "status_code": 220, "status_text": "Сервис временно недоступен"}
    vendor = FakeVendor({"POST /sms/send": down})
    with smsru(vendor.transport()) as client, pytest.raises(TransientConnectorError):
        client.send(PHONE, "x")


def test_smsru_status_and_balance() -> None:
    delivered = {"status": "OK", "sms": {"202500-1": {"status": "OK", "status_code": 103}}}
    vendor = FakeVendor(
        {"POST /sms/status": delivered, "POST /my/balance": {"status": "OK", "balance": 996.5}}
    )
    with smsru(vendor.transport()) as client:
        assert client.status("202500-1", PHONE) == "delivered"
        assert client.balance() == Decimal("996.5")


@pytest.mark.parametrize(
    ("code", "error"), [(9, TransientConnectorError), (7, PermanentConnectorError)]
)
def test_smsc_error_codes(code: int, error: type[Exception]) -> None:
    vendor = FakeVendor({"POST /sys/send.php": {"error": "refused", "error_code": code}})
    with smsc(vendor.transport()) as client, pytest.raises(error):
        client.send(PHONE, "x")


def test_smsc_form_status_and_balance() -> None:
    vendor = FakeVendor(
        {
            "POST /sys/status.php": {"status": 1, "err": 0},
            "POST /sys/balance.php": {"balance": "12.30"},
        }
    )
    with smsc(vendor.transport()) as client:
        assert client.status("77", PHONE) == "delivered"
        assert client.balance() == Decimal("12.30")
    form = dict(httpx.QueryParams(vendor.requests[0].content.decode()))
    assert form == {
        "login": "sandbox-shop",
        "psw": "sandbox-password",
        "fmt": "3",
        "phone": "79991234567",
        "id": "77",
    }


def test_provider_is_chosen_by_config() -> None:
    assert isinstance(make_sms_client(SMSC), SmscClient)
    assert isinstance(make_sms_client(SMSRU), SmsRuClient)
