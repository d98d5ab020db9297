"""Loyalty operator: credit the bonus of a paid order and tell the new balance.

The balance is kept per customer (the phone's digits) in the loyalty ledger
(`handlers/ledger.py`: one entry per order, so a retried job credits once).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.operators import HandlerContext, operator
from handlers.base import HandlerRefusal, decimal_amount, digits
from handlers.clients import clients_for

_CENT = Decimal("0.01")


@operator("loyalty.credit", inline=False)
def credit(
    ctx: HandlerContext,
    phone: str,
    order_id: str,
    amount: Any = None,
    order_amount: Any = None,
    percent: Any = None,
) -> dict[str, Any]:
    """Credit the loyalty bonus for a paid order (once per order) and return the balance.

    Args:
        phone: the customer's phone: the loyalty account.
        order_id: the paid order; a second credit for it changes nothing.
        amount: the bonus itself in rubles, when the process computed it.
        order_amount: the paid sum in rubles; the bonus is `percent` of it when no amount
            is given.
        percent: the bonus percent (default: the `loyalty_percent` setting, 3).

    Returns:
        {"credited" (bonus of this order), "balance", "phone", "order_id", "new" (False when
        the order had been credited before)}.
    """
    customer = digits(phone)
    if not customer:
        raise HandlerRefusal("no_phone", "the loyalty account is the customer's phone")
    clients = clients_for(ctx)
    bonus = _bonus(amount, order_amount, percent, clients.settings.loyalty_percent)
    ledger = clients.loyalty()
    credited, created = ledger.credit(customer=customer, order_id=str(order_id), amount=bonus)
    return {
        "credited": float(credited),
        "balance": float(ledger.balance(customer)),
        "phone": customer,
        "order_id": order_id,
        "new": created,
    }


def _bonus(amount: Any, order_amount: Any, percent: Any, default_percent: Decimal) -> Decimal:
    if amount not in (None, ""):
        return decimal_amount(amount)
    if order_amount in (None, ""):
        raise HandlerRefusal("no_amount", "give the bonus (amount) or the paid sum (order_amount)")
    chosen = percent if percent not in (None, "") else default_percent
    rate = decimal_amount(chosen, field="percent")
    return (decimal_amount(order_amount, field="order_amount") * rate / 100).quantize(_CENT)
