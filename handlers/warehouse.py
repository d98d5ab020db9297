"""Warehouse operators (MoySklad): order with reserve, stock check, write-off, payment, cancel.

Items come from the deal as `{"sku", "name", "qty", "price", "weight"}` with prices in
rubles; a line names its product by `product_id` (MoySklad's id) or by `sku`, matched against
the products' code or article in the stock report. Every create carries a `syncId` derived
from the job's idempotency key, so a retried job finds the document it created before.
"""

from __future__ import annotations

import uuid
from typing import Any

from connectors.moysklad.client import MoySkladClient, OrderLine
from engine.operators import HandlerContext, operator
from handlers.base import HandlerRefusal, decimal_amount, digits, kopecks, quantity, stable_uuid
from handlers.clients import clients_for

CONFIRMED = "confirmed"
NEEDS_CLARIFICATION = "needs_clarification"


def _entity_id(href: str) -> str:
    """The id at the end of a MoySklad href (`…/entity/product/<id>?expand=…`)."""
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _catalog(client: MoySkladClient) -> dict[str, dict[str, Any]]:
    """Stock rows by product id, code and article (one report per call)."""
    found: dict[str, dict[str, Any]] = {}
    for row in client.stock():
        product_id = _entity_id(row["meta"]["href"])
        entry = row | {"product_id": product_id}
        for key in (product_id, row.get("code"), row.get("article")):
            if key:
                found.setdefault(str(key), entry)
    return found


def _product_of(item: dict[str, Any], catalog: dict[str, dict[str, Any]]) -> dict[str, Any]:
    key = item.get("product_id") or item.get("sku")
    if not key or str(key) not in catalog:
        raise HandlerRefusal(
            "unknown_product",
            f"no product with id, code or article {key!r} in MoySklad "
            f"(line {item.get('name') or item})",
        )
    return catalog[str(key)]


def _lines(client: MoySkladClient, items: list[dict[str, Any]]) -> list[OrderLine]:
    if not items:
        raise HandlerRefusal("no_items", "the order has no items")
    catalog = _catalog(client)
    return [
        OrderLine(
            product_id=_product_of(item, catalog)["product_id"],
            quantity=quantity(item),
            price=kopecks(item.get("price", 0), field="price"),
            discount=float(item.get("discount") or 0),
        )
        for item in items
    ]


def _counterparty(client: MoySkladClient, customer: dict[str, Any]) -> str | None:
    """The customer's counterparty id (created once per phone), or None for the retail one."""
    phone = digits(customer.get("phone"))
    if not phone:
        return None
    created = client.create_counterparty(
        sync_id=str(_phone_uuid(phone)),
        name=str(customer.get("name") or f"+{phone}"),
        phone=f"+{phone}",
        email=customer.get("email") or None,
    )
    return str(created["id"])


def _phone_uuid(phone: str) -> str:
    # One counterparty per phone: MoySklad answers a re-sent syncId with the existing one.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"potok:counterparty:{phone}"))


def _address(customer: dict[str, Any], delivery: dict[str, Any] | None) -> dict[str, Any] | None:
    city = customer.get("city") or ""
    comment = (delivery or {}).get("address") or (delivery or {}).get("branch") or ""
    if not city and not comment:
        return None
    return {"city": city, "comment": comment}


@operator("warehouse.create_order", inline=False)
def create_order(
    ctx: HandlerContext,
    deal_id: str,
    customer: dict[str, Any],
    items: list[dict[str, Any]],
    amount: Any = None,
    delivery: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the customer order in MoySklad with every item reserved (once per task).

    Args:
        deal_id: the deal number; written into the order's description.
        customer: {name, phone, city, email?}; the counterparty is created once per phone
            (no phone: MoySklad's retail customer).
        items: [{sku | product_id, name, qty, price}] with prices in rubles.
        amount: the deal total in rubles; `amount_matches` tells whether the order agrees.
        delivery: {method, address, branch}, kept as the order's shipment address.

    Returns:
        {"order_id" (MoySklad id), "number", "sum", "reserved_sum", "amount_matches"};
        sums in rubles.
    """
    client = clients_for(ctx).moysklad()
    order = client.create_order(
        sync_id=stable_uuid(ctx, "moysklad.customerorder"),
        lines=_lines(client, items),
        agent_id=_counterparty(client, customer or {}),
        reserve=True,
        description=f"Сделка {deal_id}" if deal_id else None,
        shipment_address=_address(customer or {}, delivery),
    )
    total = decimal_amount(order.get("sum", 0)) / 100
    return {
        "order_id": order["id"],
        "number": order.get("name"),
        "sum": float(total),
        "reserved_sum": float(decimal_amount(order.get("reservedSum", 0)) / 100),
        "amount_matches": amount is None or decimal_amount(amount) == total,
    }


@operator("warehouse.check_stock", inline=False)
def check_stock(ctx: HandlerContext, deal_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Check the deal's items against MoySklad's free stock (stock minus reserve).

    Args:
        deal_id: the deal number (shown with the result).
        items: [{sku | product_id, name, qty}].

    Returns:
        {"status": "confirmed" | "needs_clarification", "deal_id", "lines": [{sku, name,
        wanted, free, ok}], "missing": [names]}; an unknown product needs clarification.
    """
    catalog = _catalog(clients_for(ctx).moysklad())
    lines = []
    for item in items or []:
        key = str(item.get("product_id") or item.get("sku") or "")
        row = catalog.get(key)
        wanted = quantity(item)
        free = float(row.get("quantity", 0)) if row else 0.0
        lines.append(
            {
                "sku": key,
                "name": item.get("name") or (row or {}).get("name") or key,
                "wanted": wanted,
                "free": free,
                "ok": row is not None and free >= wanted,
            }
        )
    missing = [line["name"] for line in lines if not line["ok"]]
    status = CONFIRMED if lines and not missing else NEEDS_CLARIFICATION
    return {"status": status, "deal_id": deal_id, "lines": lines, "missing": missing}


@operator("warehouse.write_off", inline=False)
def write_off(
    ctx: HandlerContext, order_id: str, items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Write the order's goods off the warehouse: a MoySklad demand linked to the order.

    Args:
        order_id: MoySklad id of the customer order.
        items: the deal's items, for the record; the demand ships every position of the order
            not shipped yet (MoySklad fills it from the order), which releases their reserve.

    Returns:
        {"demand_id", "number", "sum" (rubles), "order_id", "positions"}.
    """
    demand = (
        clients_for(ctx)
        .moysklad()
        .create_demand(order_id, sync_id=stable_uuid(ctx, "moysklad.demand"))
    )
    positions = demand.get("positions")
    count = len(positions.get("rows", [])) if isinstance(positions, dict) else len(positions or [])
    return {
        "demand_id": demand["id"],
        "number": demand.get("name"),
        "sum": float(decimal_amount(demand.get("sum", 0)) / 100),
        "order_id": order_id,
        "positions": count or len(items or []),
    }


@operator("warehouse.register_payment", inline=False)
def register_payment(
    ctx: HandlerContext, order_id: str, amount: Any = None, payment_id: str | None = None
) -> dict[str, Any]:
    """Register the customer's payment in MoySklad: an incoming payment linked to the order.

    Args:
        order_id: MoySklad id of the customer order.
        amount: the paid sum in rubles (default: what is still unpaid on the order).
        payment_id: the YooKassa payment, named in the payment's purpose.

    Returns:
        {"payment_in_id", "number", "sum" (rubles), "order_id"}.
    """
    purpose = f"Оплата заказа онлайн (ЮKassa, платёж {payment_id})" if payment_id else None
    payment = (
        clients_for(ctx)
        .moysklad()
        .create_payment_in(
            order_id,
            sync_id=stable_uuid(ctx, "moysklad.paymentin"),
            amount=kopecks(amount) if amount not in (None, "") else None,
            purpose=purpose,
        )
    )
    return {
        "payment_in_id": payment["id"],
        "number": payment.get("name"),
        "sum": float(decimal_amount(payment.get("sum", 0)) / 100),
        "order_id": order_id,
    }


@operator("warehouse.cancel_order", inline=False)
def cancel_order(ctx: HandlerContext, order_id: str, reason: str = "") -> dict[str, Any]:
    """Cancel the order in MoySklad and release every reservation (safe to repeat).

    Args:
        order_id: MoySklad id of the customer order.
        reason: why ("not_paid", "customer_refused" …), returned for the process history.

    Returns:
        {"order_id", "state", "reserved_sum" (0 once released), "reason"}.
    """
    client = clients_for(ctx).moysklad()
    order = client.cancel_order(order_id)
    return {
        "order_id": order_id,
        "state": client.config.cancel_state,
        "reserved_sum": float(decimal_amount(order.get("reservedSum", 0)) / 100),
        "reason": reason,
    }
