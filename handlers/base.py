"""What the handlers share: the business-refusal error, stable ids, money and phone helpers.

Errors a handler raises reach the worker layer (`engine.jobs`) unchanged:

    connectors.base.TransientConnectorError   retried with backoff, then an incident
    connectors.base.PermanentConnectorError   an incident, or the BPMN error `vendor_code`
    HandlerRefusal (here)                     bad business input (unknown product, no phone…):
                                              never retried; its `code` can be caught by an
                                              error boundary event, otherwise an incident
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.operators import HandlerContext

_CENT = Decimal("0.01")


class HandlerRefusal(Exception):
    """The step cannot be done with these parameters; retrying the same call cannot help."""

    transient = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def stable_uuid(ctx: HandlerContext, purpose: str) -> str:
    """A UUID fixed for this task and purpose: the vendor's idempotency key across retries.

    `ctx.idempotency_key` is "<instance>:<task>" (73 characters): too long for YooKassa's
    Idempotence-Key (64) and not a UUID as MoySklad's syncId must be, so it is hashed.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"potok:{purpose}:{ctx.idempotency_key}"))


def decimal_amount(value: Any, *, field: str = "amount") -> Decimal:
    """`value` (number or decimal string, rubles) as a Decimal with kopecks; refuses junk."""
    try:
        amount = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError):
        raise HandlerRefusal("bad_amount", f"{field}: not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise HandlerRefusal("bad_amount", f"{field}: not an amount: {value!r}")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def kopecks(value: Any, *, field: str = "amount") -> int:
    """Rubles → whole kopecks (MoySklad, Russian Post)."""
    return int(decimal_amount(value, field=field) * 100)


def digits(phone: Any) -> str:
    """Only the digits of a phone number ("+7 (913) 123-45-67" → "79131234567")."""
    return "".join(ch for ch in str(phone or "") if ch.isdigit())


def quantity(item: dict[str, Any]) -> float:
    """The quantity of an order line (`qty` or `quantity`, default 1)."""
    raw = item.get("qty", item.get("quantity", 1))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise HandlerRefusal("bad_quantity", f"not a quantity: {raw!r}") from None
    if value <= 0:
        raise HandlerRefusal("bad_quantity", f"quantity must be positive: {raw!r}")
    return value


def total_weight_kg(items: list[dict[str, Any]] | None, given: Any = None) -> float:
    """The parcel weight in kg: `given` when positive, else the sum of item weights × qty."""
    try:
        weight = float(given or 0)
    except (TypeError, ValueError):
        raise HandlerRefusal("bad_weight", f"not a weight: {given!r}") from None
    if weight > 0:
        return weight
    total = sum(float(item.get("weight") or 0) * quantity(item) for item in items or [])
    if total <= 0:
        raise HandlerRefusal("bad_weight", "the parcel weight is unknown (no weight given)")
    return total
