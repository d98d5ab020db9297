"""Payment operators (YooKassa): a payment link for the order, the fiscal receipt once paid.

Each POST carries an `Idempotence-Key` derived from the job's idempotency key: a retried job,
or one retried from an incident, gets the payment it created the first time. YooKassa keeps
a key 24 h and refuses the same key with a different body, so the body is built only from
the parameters (no clock, no random).
"""

from __future__ import annotations

from typing import Any

from connectors.yookassa.client import money
from engine.operators import HandlerContext, operator
from handlers.base import HandlerRefusal, decimal_amount, digits, quantity, stable_uuid
from handlers.clients import clients_for

MAX_DESCRIPTION = 128  # YooKassa's limit for a payment's and a receipt line's description


@operator("payments.create_link", inline=False)
def create_link(
    ctx: HandlerContext,
    order_id: str,
    amount: Any,
    description: str = "",
    customer: dict[str, Any] | None = None,
    return_url: str | None = None,
) -> dict[str, Any]:
    """Create a YooKassa payment for the order and return its payment link.

    Args:
        order_id: the order; YooKassa keeps it in `metadata.order_id`, which the payment
            webhook uses to find the waiting process.
        amount: the sum in rubles ("7490.00" or a number).
        description: what the customer sees on the payment page (cut to 128 characters).
        customer: {name, phone, email?}; the phone is kept in the payment's metadata.
        return_url: where the customer lands after paying (default: the shop's setting).

    Returns:
        {"payment_id", "confirmation_url", "status", "amount" (decimal string)}.
    """
    value = decimal_amount(amount)
    if value <= 0:
        raise HandlerRefusal("bad_amount", f"a payment needs a positive amount, got {amount!r}")
    metadata = {"order_id": str(order_id)}
    phone = digits((customer or {}).get("phone"))
    if phone:
        metadata["customer_phone"] = phone
    payment = (
        clients_for(ctx)
        .yookassa()
        .create_payment(
            idempotence_key=stable_uuid(ctx, "yookassa.payment"),
            amount=value,
            description=(description or f"Заказ {order_id}")[:MAX_DESCRIPTION],
            metadata=metadata,
            return_url=return_url,
        )
    )
    return {
        "payment_id": payment["id"],
        "confirmation_url": (payment.get("confirmation") or {}).get("confirmation_url"),
        "status": payment.get("status"),
        "amount": payment.get("amount", {}).get("value", f"{value:.2f}"),
    }


def _receipt_customer(customer: dict[str, Any]) -> dict[str, str]:
    found = {}
    if customer.get("email"):
        found["email"] = str(customer["email"])
    if digits(customer.get("phone")):
        found["phone"] = digits(customer.get("phone"))
    if not found:
        raise HandlerRefusal("no_contact", "a receipt needs the customer's phone or e-mail")
    if customer.get("name"):
        found["full_name"] = str(customer["name"])
    return found


def _receipt_items(items: list[dict[str, Any]], vat_code: int, subject: str) -> list[Any]:
    if not items:
        raise HandlerRefusal("no_items", "a receipt needs the order's items")
    return [
        {
            "description": str(item.get("name") or item.get("sku") or "Товар")[:MAX_DESCRIPTION],
            "quantity": f"{quantity(item):g}",
            "amount": money(decimal_amount(item.get("price", 0), field="price")),
            "vat_code": vat_code,
            "payment_mode": "full_payment",
            "payment_subject": subject,
        }
        for item in items
    ]


@operator("payments.create_receipt", inline=False)
def create_receipt(
    ctx: HandlerContext,
    payment_id: str,
    order_id: str,
    amount: Any,
    items: list[dict[str, Any]],
    customer: dict[str, Any],
) -> dict[str, Any]:
    """Register the fiscal receipt (54-FZ) of a paid YooKassa payment, sent to the customer.

    Args:
        payment_id: the paid YooKassa payment.
        order_id: the order (returned for the process history).
        amount: the paid sum in rubles, settled cashless.
        items: [{name, qty, price}] — one receipt line each, prices in rubles per unit.
        customer: {phone | email, name?}; the receipt goes there.

    Returns:
        {"receipt_id", "status", "order_id"}.
    """
    settings = clients_for(ctx).settings
    receipt = (
        clients_for(ctx)
        .yookassa()
        .create_receipt(
            idempotence_key=stable_uuid(ctx, "yookassa.receipt"),
            payment_id=payment_id,
            customer=_receipt_customer(customer or {}),
            items=_receipt_items(
                items, settings.receipt_vat_code, settings.receipt_payment_subject
            ),
            amount=decimal_amount(amount),
        )
    )
    return {"receipt_id": receipt["id"], "status": receipt.get("status"), "order_id": order_id}
