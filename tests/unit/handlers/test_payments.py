"""Payment handlers against a mocked YooKassa: Idempotence-Key, request shapes, failures."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from engine.jobs import is_transient
from engine.operators import HandlerContext
from handlers import payments
from handlers.base import HandlerRefusal
from handlers.clients import Clients
from tests.unit.handlers.conftest import FakeVendor, context

CUSTOMER = {"name": "Иван", "phone": "+7 913 123-45-67"}
ITEMS = [
    {"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 6990.0},
    {"sku": "GZ-550", "name": "Клипса", "qty": 10, "price": 50.0},
]
PAYMENT = {
    "id": "2f5c0b3c-000f-5000-8000-1a2b3c4d5e6f",
    "status": "pending",
    "paid": False,
    "amount": {"value": "7490.00", "currency": "RUB"},
    "confirmation": {
        "type": "redirect",
        "return_url": "http://127.0.0.1:8000/",
        "confirmation_url": "https://yoomoney.ru/checkout/payments/v2/contract?orderId=2f5c",
    },
    "metadata": {"order_id": "O1"},
}


def test_create_link_sends_a_stable_idempotence_key_and_returns_the_link(
    vendor: FakeVendor, clients: Clients
) -> None:
    vendor.on("POST", "/payments", PAYMENT)
    result = payments.create_link(
        ctx=context(clients), order_id="O1", amount=7490, description="Заказ O1", customer=CUSTOMER
    )
    payments.create_link(
        ctx=context(clients), order_id="O1", amount=7490, description="Заказ O1", customer=CUSTOMER
    )
    first, second = vendor.calls("POST", "/payments")
    key = first.headers["Idempotence-Key"]
    assert uuid.UUID(key) and len(key) <= 64 and second.headers["Idempotence-Key"] == key
    assert first.content == second.content  # same key, same body: YooKassa refuses otherwise
    body = vendor.sent("POST", "/payments")[0]
    assert body == {
        "amount": {"value": "7490.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "http://127.0.0.1:8000/"},
        "description": "Заказ O1",
        "metadata": {"order_id": "O1", "customer_phone": "79131234567"},
    }
    assert result == {
        "payment_id": PAYMENT["id"],
        "confirmation_url": PAYMENT["confirmation"]["confirmation_url"],  # type: ignore[index]
        "status": "pending",
        "amount": "7490.00",
    }


def test_create_link_refuses_a_zero_amount(vendor: FakeVendor, ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal):
        payments.create_link(ctx=ctx, order_id="O1", amount="0")
    assert vendor.requests == []


def test_create_receipt_lists_every_item_and_settles_the_sum(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.on("POST", "/receipts", {"id": "rc-1", "status": "pending"})
    result = payments.create_receipt(
        ctx=ctx,
        payment_id=PAYMENT["id"],
        order_id="O1",
        amount="7490.00",
        items=ITEMS,
        customer=CUSTOMER,
    )
    (request,) = vendor.calls("POST", "/receipts")
    assert uuid.UUID(request.headers["Idempotence-Key"])
    (body,) = vendor.sent("POST", "/receipts")
    assert body["type"] == "payment" and body["payment_id"] == PAYMENT["id"]
    assert body["customer"] == {"phone": "79131234567", "full_name": "Иван"}
    assert body["items"][1] == {
        "description": "Клипса",
        "quantity": "10",
        "amount": {"value": "50.00", "currency": "RUB"},
        "vat_code": 1,
        "payment_mode": "full_payment",
        "payment_subject": "commodity",
    }
    assert body["settlements"] == [
        {"type": "cashless", "amount": {"value": "7490.00", "currency": "RUB"}}
    ]
    assert body["send"] is True
    assert result == {"receipt_id": "rc-1", "status": "pending", "order_id": "O1"}


def test_a_receipt_needs_a_contact(vendor: FakeVendor, ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal) as caught:
        payments.create_receipt(
            ctx=ctx, payment_id="p", order_id="O1", amount=1, items=ITEMS, customer={"name": "И"}
        )
    assert caught.value.code == "no_contact"


CALLS: dict[str, Callable[[HandlerContext], Any]] = {
    "create_link": lambda ctx: payments.create_link(ctx=ctx, order_id="O1", amount=10),
    "create_receipt": lambda ctx: payments.create_receipt(
        ctx=ctx, payment_id="p", order_id="O1", amount=10, items=ITEMS, customer=CUSTOMER
    ),
}
ERROR = {"type": "error", "id": "e1", "code": "invalid_request", "description": "Bad amount"}


@pytest.mark.parametrize("status", [500, 202, 429])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_unknown_outcomes_are_transient(
    name: str, status: int, vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.fail(status, ERROR)
    with pytest.raises(TransientConnectorError) as caught:
        CALLS[name](ctx)
    assert is_transient(caught.value)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_refusal_is_permanent_with_the_vendor_code(
    name: str, vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.fail(400, ERROR)
    with pytest.raises(PermanentConnectorError) as caught:
        CALLS[name](ctx)
    assert not is_transient(caught.value) and caught.value.vendor_code == "invalid_request"


def test_a_dropped_connection_is_transient(clients: Clients, ctx: HandlerContext) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    broken = Clients(clients.settings, transport=httpx.MockTransport(refuse))
    ctx.services["clients"] = broken
    with pytest.raises(TransientConnectorError):
        payments.create_link(ctx=ctx, order_id="O1", amount=10)
