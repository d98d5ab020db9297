"""YooKassa client against its double over real HTTP: idempotent payments, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.yookassa import YooKassaClient, YooKassaConfig, money
from tests.integration.connectors.conftest import Sandbox

ITEM = {
    "description": "Кроссовки беговые",
    "quantity": "1",
    "amount": money(1490),
    "vat_code": 1,
    "payment_mode": "full_payment",
    "payment_subject": "commodity",
}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[YooKassaClient]:
    sandbox.control("yookassa", "webhook", {"url": sandbox.receiver("yookassa")})
    with YooKassaClient(sandbox.config(YooKassaConfig())) as client:
        yield client


def pay(client: YooKassaClient, key: str = "job-1", amount: Any = "1490.00") -> dict[str, Any]:
    return client.create_payment(
        idempotence_key=key, amount=amount, description="Заказ 42", metadata={"order_id": "42"}
    )


def test_same_key_twice_is_one_payment(client: YooKassaClient, sandbox: Sandbox) -> None:
    first = pay(client)
    second = pay(client)
    assert first["id"] == second["id"]
    assert first["status"] == "pending" and first["paid"] is False
    assert first["confirmation"]["confirmation_url"].endswith(f"/checkout/{first['id']}")
    assert len(sandbox.records("yookassa", "payment")) == 1
    with pytest.raises(PermanentConnectorError) as caught:
        pay(client, amount="1.00")  # same key, other body
    assert "Idempotence key" in (caught.value.vendor_message or "")


def test_paying_notifies_the_shop_and_the_payment_reads_succeeded(
    client: YooKassaClient, sandbox: Sandbox
) -> None:
    payment = pay(client)
    sandbox.control("yookassa", f"payments/{payment['id']}/pay")
    notification = sandbox.wait_received("yookassa")[0].json()
    assert notification["type"] == "notification"
    assert notification["event"] == "payment.succeeded"
    assert notification["object"]["id"] == payment["id"]
    fetched = client.get_payment(payment["id"])
    assert fetched["status"] == "succeeded" and fetched["paid"] is True
    assert fetched["metadata"] == {"order_id": "42"}


def test_customer_pays_on_the_checkout_page(client: YooKassaClient, sandbox: Sandbox) -> None:
    payment = pay(client)
    url = payment["confirmation"]["confirmation_url"]
    page = httpx.get(url)
    assert "Оплатить" in page.text and "1490.00 RUB" in page.text
    answer = httpx.post(f"{url}/pay")
    assert answer.status_code == 303
    assert answer.headers["location"] == payment["confirmation"]["return_url"]
    assert client.get_payment(payment["id"])["status"] == "succeeded"


def test_cancel_notifies_canceled(client: YooKassaClient, sandbox: Sandbox) -> None:
    payment = pay(client)
    sandbox.control("yookassa", f"payments/{payment['id']}/cancel")
    assert sandbox.wait_received("yookassa")[0].json()["event"] == "payment.canceled"
    assert client.get_payment(payment["id"])["status"] == "canceled"


def test_refund_and_receipt_of_a_paid_payment(client: YooKassaClient, sandbox: Sandbox) -> None:
    payment = pay(client)
    sandbox.control("yookassa", f"payments/{payment['id']}/pay")
    refund = client.create_refund(idempotence_key="rf-1", payment_id=payment["id"], amount=490)
    again = client.create_refund(idempotence_key="rf-1", payment_id=payment["id"], amount=490)
    assert refund["id"] == again["id"] and refund["status"] == "succeeded"
    assert client.get_payment(payment["id"])["refunded_amount"]["value"] == "490.00"
    with pytest.raises(PermanentConnectorError):
        client.create_refund(idempotence_key="rf-2", payment_id=payment["id"], amount=1001)
    events = [item.json()["event"] for item in sandbox.wait_received("yookassa", 2)]
    assert events == ["payment.succeeded", "refund.succeeded"]
    receipt = client.create_receipt(
        idempotence_key="rc-1",
        payment_id=payment["id"],
        customer={"email": "buyer@example.com"},
        items=[ITEM],
        amount="1490",
    )
    assert receipt["status"] == "pending"
    assert client.get_receipt(receipt["id"])["status"] == "succeeded"


def test_bad_credentials_and_bad_amount_keep_the_vendor_text(sandbox: Sandbox) -> None:
    config = sandbox.config(YooKassaConfig(), secret_key=SecretStr("test_wrong"))
    with YooKassaClient(config) as stranger, pytest.raises(PermanentConnectorError) as denied:
        pay(stranger)
    assert denied.value.status_code == 401
    assert denied.value.vendor_code == "invalid_credentials"
    client = YooKassaClient(sandbox.config(YooKassaConfig()))
    with client, pytest.raises(PermanentConnectorError) as invalid:
        pay(client, amount="-5")
    assert invalid.value.vendor_code == "invalid_request"
    assert "amount" in (invalid.value.vendor_message or "")
