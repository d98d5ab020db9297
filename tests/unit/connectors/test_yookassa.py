"""YooKassa client on the wire: Basic auth, Idempotence-Key, amounts, 202 as "unknown"."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.yookassa import YooKassaClient, YooKassaConfig, money
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = YooKassaConfig(base_url="https://api.yookassa.ru/v3", return_url="https://shop/ok")
PAYMENT = {
    "id": "2d5e",
    "status": "pending",
    "paid": False,
    "amount": {"value": "1490.00", "currency": "RUB"},
    "confirmation": {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/x"},
}


def make(transport: httpx.BaseTransport) -> YooKassaClient:
    return YooKassaClient(CONFIG, transport=transport)


def yookassa_error(message: str) -> dict[str, Any]:
    return {"type": "error", "id": "e1", "code": "invalid_request", "description": message}


def create(client: YooKassaClient) -> dict[str, Any]:
    return client.create_payment(
        idempotence_key="job-7", amount="1490", description="Заказ 42", metadata={"order_id": "42"}
    )


test_contract = contract_test(
    Contract(
        name="create_payment",
        make=make,
        call=create,
        ok=PAYMENT,
        error=yookassa_error,
        check=lambda payment: payment["confirmation"]["confirmation_url"].startswith("https"),
    ),
    Contract(
        name="create_refund",
        make=make,
        call=lambda c: c.create_refund(idempotence_key="r-1", payment_id="2d5e", amount=100),
        ok={"id": "rf-1", "status": "succeeded"},
        error=yookassa_error,
        check=lambda refund: refund["status"] == "succeeded",
    ),
)


def test_create_payment_sends_key_auth_and_exact_amount() -> None:
    vendor = FakeVendor({"POST /v3/payments": PAYMENT})
    with make(vendor.transport()) as client:
        create(client)
    request = vendor.requests[0]
    assert request.headers["Idempotence-Key"] == "job-7"
    credentials = base64.b64encode(b"100500:test_sandbox_secret_key").decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert vendor.body(0) == {
        "amount": {"value": "1490.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://shop/ok"},
        "description": "Заказ 42",
        "metadata": {"order_id": "42"},
    }


def test_money_rounds_to_kopecks() -> None:
    assert money(Decimal("10.005")) == {"value": "10.01", "currency": "RUB"}
    assert money(7) == {"value": "7.00", "currency": "RUB"}


def test_202_means_unknown_and_is_retried_with_the_same_key() -> None:
    vendor = FakeVendor({"POST /v3/payments": (202, {"type": "processing"})})
    with make(vendor.transport()) as client, pytest.raises(TransientConnectorError) as caught:
        create(client)
    assert caught.value.status_code == 202


def test_error_keeps_description_code_and_parameter() -> None:
    body = yookassa_error("Invalid amount") | {"parameter": "amount.value"}
    vendor = FakeVendor({"POST /v3/payments": (400, body)})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        create(client)
    assert caught.value.vendor_message == "Invalid amount (parameter: amount.value)"
    assert caught.value.vendor_code == "invalid_request"


def test_receipt_settles_cashless_for_the_amount() -> None:
    vendor = FakeVendor({"POST /v3/receipts": {"id": "rc-1", "status": "pending"}})
    item = {"description": "Кроссовки", "quantity": "1", "amount": money(1490), "vat_code": 1}
    with make(vendor.transport()) as client:
        client.create_receipt(
            idempotence_key="rc",
            payment_id="2d5e",
            customer={"phone": "79991234567"},
            items=[item],
            amount="1490",
        )
    body = vendor.body(0)
    assert body["settlements"] == [{"type": "cashless", "amount": money(1490)}]
    assert body["send"] is True and body["type"] == "payment"
