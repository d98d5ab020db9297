"""SMS clients against the double over real HTTP, for both providers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.sms import SmsConfig, make_sms_client
from tests.integration.connectors.conftest import Sandbox


@pytest.mark.parametrize("provider", ["smsru", "smsc"])
def test_send_status_balance(sandbox: Sandbox, provider: str) -> None:
    with make_sms_client(sandbox.config(SmsConfig(provider=provider))) as client:
        sent = client.send("+7 999 123-45-67", "Заказ 42 оплачен. Бонус 45 ₽", message_id="42")
        assert sent.phone == "79991234567"
        assert client.status(sent.sms_id, "+79991234567") == "delivered"
        assert client.balance() == Decimal("996.50")
    [sms] = sandbox.records("sms", "sms")
    assert (sms["provider"], sms["phone"]) == (provider, "79991234567")
    assert sms["text"] == "Заказ 42 оплачен. Бонус 45 ₽"


@pytest.mark.parametrize("provider", ["smsru", "smsc"])
def test_bad_number_and_bad_credentials_are_permanent(sandbox: Sandbox, provider: str) -> None:
    client = make_sms_client(sandbox.config(SmsConfig(provider=provider)))
    with client, pytest.raises(PermanentConnectorError) as number:
        client.send("12345", "x")
    assert number.value.vendor_code == {"smsru": "202", "smsc": "7"}[provider]
    wrong = sandbox.config(
        SmsConfig(provider=provider), api_id=SecretStr("x"), password=SecretStr("x")
    )
    with make_sms_client(wrong) as stranger, pytest.raises(PermanentConnectorError):
        stranger.balance()
    assert sandbox.records("sms", "sms") == []


def test_test_mode_is_not_charged_and_failed_delivery_reads_failed(sandbox: Sandbox) -> None:
    with make_sms_client(sandbox.config(SmsConfig(test=True))) as client:
        sent = client.send("79991234567", "проверка")
        assert client.balance() == Decimal("1000")
        sandbox.control("sms", f"sms/{sent.sms_id}/fail")
        assert client.status(sent.sms_id, "79991234567") == "failed"
