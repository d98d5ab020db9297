"""A handler whose connector is down: retries, then an incident, then a retry after the double
recovers — and the double holds exactly one order / payment / write-off in the end."""

from __future__ import annotations

from typing import Any

from connectors.moysklad.client import OrderLine
from connectors.moysklad.config import STORE_ID
from engine.operators import OPERATORS, HandlerContext
from handlers.clients import Clients
from tests.integration.connectors.conftest import Sandbox
from tests.integration.handlers.conftest import Engine

MAX_ATTEMPTS = 5  # the operators' default retry budget
SKU = "SKU-001"  # in the MoySklad double's catalog
ORDER_PARAMS = {"deal_id": "deal_id", "customer": "customer", "items": "items", "amount": "amount"}
DEAL = {
    "deal_id": "D-TEST0001",
    "customer": {"name": "Иван", "phone": "+79131234567", "city": "Новосибирск"},
    "items": [{"sku": SKU, "name": "Кроссовки беговые", "qty": 2, "price": 5990.0}],
    "amount": 11980.0,
}


def _records(sandbox: Sandbox, system: str, kind: str) -> list[dict[str, Any]]:
    return sandbox.records(system, kind)


def _fail(sandbox: Sandbox, system: str, count: int, mode: str = "500") -> None:
    sandbox.control(system, "fail", {"mode": mode, "count": count})


def _down_then_retried(engine: Engine, sandbox: Sandbox, system: str, instance_id: str) -> None:
    """Every attempt fails, the job gives up into an incident; the double recovers; retry."""
    outcomes = engine.drain()
    assert [o.status for o in outcomes] == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    (incident,) = engine.incidents(instance_id)
    assert incident.state == "open" and incident.attempts == MAX_ATTEMPTS
    assert incident.message.startswith("gave up after 5 attempts: TransientConnectorError")
    assert "HTTP 500" in incident.message
    assert engine.instance(instance_id).status == "error"
    assert sandbox.state(system)["fault"] is None  # the double has recovered
    engine.retry_incident(incident.id)
    assert [o.status for o in engine.drain()] == ["done"]
    assert engine.incidents(instance_id)[0].state == "resolved"
    assert engine.instance(instance_id).status == "completed"


def test_create_order_with_moysklad_down(
    engine: Engine, sandbox: Sandbox, clients: Clients
) -> None:
    engine.deploy("order_flow", "warehouse.create_order", ORDER_PARAMS, "order")
    _fail(sandbox, "moysklad", MAX_ATTEMPTS)  # the first call of every attempt fails
    instance_id = engine.start("order_flow", DEAL)
    _down_then_retried(engine, sandbox, "moysklad", instance_id)
    (order,) = _records(sandbox, "moysklad", "customerorder")
    result = engine.instance(instance_id).variables["order"]
    assert result["order_id"] == order["id"] and result["sum"] == 11980.0
    assert [(p["quantity"], p["reserve"]) for p in order["positions"]] == [(2.0, 2.0)]
    # A worker that lost its lease re-runs the handler with the same key: still one order.
    job = engine.job(instance_id)
    ctx = HandlerContext(instance_id, job.task_guid, "call", job.idempotency_key)
    again = OPERATORS.get("warehouse.create_order").call(job.params, ctx)
    assert again["order_id"] == order["id"]
    assert len(_records(sandbox, "moysklad", "customerorder")) == 1


def test_transient_failures_are_retried_without_an_incident(
    engine: Engine, sandbox: Sandbox, clients: Clients
) -> None:
    engine.deploy("order_flow", "warehouse.create_order", ORDER_PARAMS, "order")
    _fail(sandbox, "moysklad", 1, mode="timeout")  # the client gives up after 0.5 s
    instance_id = engine.start("order_flow", DEAL)
    outcomes = engine.drain()
    assert [o.status for o in outcomes] == ["retry", "done"]
    assert engine.incidents(instance_id) == []
    assert engine.instance(instance_id).status == "completed"
    assert len(_records(sandbox, "moysklad", "customerorder")) == 1


def test_payment_link_with_yookassa_down(
    engine: Engine, sandbox: Sandbox, clients: Clients
) -> None:
    params = {"order_id": "order_id", "amount": "amount", "description": "description"}
    engine.deploy("pay_flow", "payments.create_link", params, "payment")
    _fail(sandbox, "yookassa", MAX_ATTEMPTS)
    variables = {"order_id": "O-17", "amount": "11980.00", "description": "Заказ O-17"}
    instance_id = engine.start("pay_flow", variables)
    _down_then_retried(engine, sandbox, "yookassa", instance_id)
    (payment,) = _records(sandbox, "yookassa", "payment")
    result = engine.instance(instance_id).variables["payment"]
    assert result["payment_id"] == payment["id"] and payment["metadata"]["order_id"] == "O-17"
    assert result["confirmation_url"].endswith(f"/checkout/{payment['id']}")
    assert payment["amount"] == {"value": "11980.00", "currency": "RUB"}


def test_write_off_with_moysklad_down(engine: Engine, sandbox: Sandbox, clients: Clients) -> None:
    order = clients.moysklad().create_order(
        sync_id="6c1f5a0e-2d7b-4c59-9a43-0d2b6a6f0001",
        lines=[OrderLine(product_id=_product_id(clients), quantity=2, price=599000)],
    )
    engine.deploy("ship_flow", "warehouse.write_off", {"order_id": "order_id"}, "demand")
    _fail(sandbox, "moysklad", MAX_ATTEMPTS)
    instance_id = engine.start("ship_flow", {"order_id": order["id"]})
    _down_then_retried(engine, sandbox, "moysklad", instance_id)
    (demand,) = _records(sandbox, "moysklad", "demand")
    assert demand["customerOrder"]["meta"]["href"].endswith(order["id"])
    assert engine.instance(instance_id).variables["demand"]["demand_id"] == demand["id"]
    shipped = clients.moysklad().get_order(order["id"])
    assert shipped["shippedSum"] == 2 * 599000 and shipped["reservedSum"] == 0
    stock = {row["code"]: row for row in clients.moysklad().stock(store_id=STORE_ID)}
    assert stock[SKU]["reserve"] == 0


def _product_id(clients: Clients) -> str:
    rows = clients.moysklad().stock()
    row = next(row for row in rows if row.get("code") == SKU)
    return str(row["meta"]["href"]).rsplit("/", 1)[-1]
