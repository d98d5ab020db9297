"""deal_pipeline: required fields per stage, warehouse gate, first-purchase call, accepted_by.

Operators the process calls (parameters as the handlers must accept them):

- ids.new               (inline) prefix — handlers/ids.py; the deal number ("D-7KQ2M9XA").
- warehouse.check_stock (job)    deal_id, items → {"status": "confirmed" | "needs_clarification",
                                 ...anything else is shown to the warehouse}.

Messages: `deal_start` starts a deal (variables: customer {name, phone, city, orders_count},
manager, channel, contact, lead_source, items, amount, delivery_method, delivery_address,
delivery_branch, comment, copied_from — "copy deal" sends the old deal's data plus
copied_from); `deal_event` (correlation deal_id; stage = paid | shipped | delivered |
payment_cancelled, order_id?, track_number?) moves the stage; entering awaiting_payment throws
`payment_requested` (the engine delivers it: it starts payment_to_shipment).

The manager's tasks (stage_task, confirm_task) are assigned to the deal's responsible manager
(assigneeVariable `responsible`, from the message's `manager`): only they or an admin act.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import service
from engine.actor import Actor
from engine.db import session_scope
from engine.errors import FormValidationError, PermissionDenied
from tests.integration.processes.conftest import (
    MANAGER,
    OTHER_MANAGER,
    WAREHOUSE,
    Driver,
    FakeOperators,
)

SUPERVISOR = Actor("boss", groups=frozenset({"managers"}), roles=frozenset({"admin"}))

ITEMS = [{"sku": "GZ-101", "name": "Бампер передний", "qty": 1, "price": 7490.0, "weight": 6.5}]


def _start(driver: Driver, orders_count: int = 0, **request: Any) -> str:
    driver.deploy("deal_pipeline.bpmn", "deal")
    variables = {
        "customer": {
            "name": "Иван",
            "phone": "+79131234567",
            "city": "Новосибирск",
            "orders_count": orders_count,
        },
        "manager": "ivanov",
        "channel": "telegram",
        "contact": "tg-42",
        "lead_source": "telegram",
        **request,
    }
    return driver.deliver("deal_start", variables=variables)["started"][0]


def _move(driver: Driver, deal: str, next_stage: str, actor: Any = MANAGER, **fields: Any) -> None:
    task = driver.task(deal, "stage_task")
    driver.complete(task, {**task.data, **fields, "next_stage": next_stage}, actor)


def _refused(driver: Driver, deal: str, next_stage: str, **fields: Any) -> set[str]:
    with pytest.raises(FormValidationError) as refused:
        _move(driver, deal, next_stage, **fields)
    return {str(detail["loc"][-1]) for detail in refused.value.details}


READY_TO_PAY = {
    "items": ITEMS,
    "amount": 7490.0,
    "delivery_method": "cdek",
    "delivery_address": "Новосибирск, ул. Ленина, 1",
}


def test_stages_need_their_fields_and_picking_waits_for_the_warehouse(
    driver: Driver, fakes: FakeOperators
) -> None:
    fakes.answer("warehouse.check_stock", {"status": "needs_clarification", "missing": ["GZ-101"]})
    # payment_to_shipment is deployed: awaiting_payment starts it (its first steps answered)
    driver.deploy("payment_to_shipment.bpmn", "payment")
    fakes.answer("warehouse.create_order", {"order_id": "CO-1", "number": "1"})
    fakes.answer("payments.create_link", {"payment_id": "pay-1", "confirmation_url": "u"})
    deal = _start(driver)
    variables = driver.variables(deal)
    assert variables["deal_id"].startswith("D-") and len(variables["deal_id"]) == 10
    assert (variables["stage"], variables["accepted_by"]) == ("new", "ivanov")
    task = driver.task(deal, "stage_task")
    assert task.lane == "managers" and task.form["ui_schema"]["accepted_by"]["ui:readonly"]
    assert task.assignee == "ivanov"  # the deal's responsible manager, nobody else
    with pytest.raises(PermissionDenied):
        _move(driver, deal, "awaiting_payment", actor=OTHER_MANAGER, **READY_TO_PAY)

    assert _refused(driver, deal, "picking") == {"stock_confirmed"}
    assert _refused(driver, deal, "awaiting_payment") == {"items", "amount", "delivery_method"}
    no_address = {**READY_TO_PAY, "delivery_address": ""}
    assert _refused(driver, deal, "awaiting_payment", **no_address) == {"delivery_address"}
    assert _refused(driver, deal, "lost") == {"loss_reason"}
    assert _refused(driver, deal, "won") == {"stage"}

    # A supervisor (admin) moves the deal for ivanov; "accepted by" stays ivanov.
    _move(driver, deal, "awaiting_payment", actor=SUPERVISOR, accepted_by="petrov", **READY_TO_PAY)
    assert driver.variables(deal)["last_actor"] == "boss"  # the engine records who moved it
    assert fakes.of("warehouse.check_stock") == [{"deal_id": variables["deal_id"], "items": ITEMS}]
    stock_task = driver.task(deal, "stock_task")
    assert stock_task.lane == "warehouse" and stock_task.data["stock"]["missing"] == ["GZ-101"]
    assert [t.element_id for t in driver.tasks(deal)] == ["stock_task"]  # manager waits
    driver.complete(stock_task, {**stock_task.data, "stock_status": "confirmed"}, WAREHOUSE)

    confirm = driver.task(deal, "confirm_task")  # first purchase: call the customer
    assert confirm.lane == "managers" and confirm.assignee == "ivanov"
    assert driver.instances("payment_to_shipment") == []  # no payment before the call
    driver.complete(confirm, {**confirm.data, "confirmation": "confirmed"}, MANAGER)

    variables = driver.variables(deal)
    assert variables["stage"] == "awaiting_payment" and variables["stock_confirmed"] is True
    assert variables["accepted_by"] == "ivanov"  # read-only: set once by the process
    assert variables["last_actor"] == "ivanov"  # who did the last step: the phone call
    # payment_requested was delivered: it started the payment with the deal's data
    assert [name for name, _ in driver.messages_sent(deal)] == ["payment_requested"]
    [payment] = driver.instances("payment_to_shipment")
    request = payment.variables["request"]
    assert request["deal_id"] == variables["deal_id"]
    assert request["delivery"] == {
        "method": "cdek",
        "address": "Новосибирск, ул. Ленина, 1",
        "branch": "",
    }
    assert fakes.of("warehouse.create_order")[0]["deal_id"] == variables["deal_id"]

    paid = {"deal_id": variables["deal_id"]}
    driver.deliver("deal_event", correlation=paid, variables={"stage": "paid", "order_id": "CO-1"})
    assert (driver.variables(deal)["stage"], driver.variables(deal)["order_id"]) == ("paid", "CO-1")
    assert driver.task(deal, "stage_task").assignee == "ivanov"  # every new stage task
    _move(driver, deal, "picking", accepted_by="petrov")
    assert driver.variables(deal)["stage"] == "picking"
    assert driver.variables(deal)["accepted_by"] == "ivanov"

    driver.deliver("deal_event", correlation=paid, variables={"stage": "delivered"})
    finished = driver.instance(deal)
    assert finished.status == "completed"
    assert (finished.variables["stage"], finished.variables["deal_result"]) == ("won", "won")

    with session_scope(driver.factory) as session:
        history = service.list_history(session, instance_id=deal)
        moved = [e for e in history if e.type == "task_completed" and "amount" in e.changes]
    assert moved[0].actor == "boss" and moved[0].changes["amount"] == [0, 7490.0]


def test_repeat_customer_with_stock_goes_straight_to_payment_and_can_be_lost(
    driver: Driver, fakes: FakeOperators
) -> None:
    fakes.answer("warehouse.check_stock", {"status": "confirmed"})
    deal = _start(driver, orders_count=3, copied_from="D-OLDDEAL1", **READY_TO_PAY)
    variables = driver.variables(deal)
    assert variables["copied_from"] == "D-OLDDEAL1" and variables["items"] == ITEMS

    assert driver.task(deal, "stage_task").assignee == "ivanov"
    _move(driver, deal, "awaiting_payment")
    assert driver.tasks(deal)[0].element_id == "stage_task"  # no warehouse, no phone call
    assert driver.variables(deal)["stage"] == "awaiting_payment"

    _move(driver, deal, "lost", loss_reason="купил в другом месте")
    finished = driver.instance(deal)
    assert finished.status == "completed"
    assert finished.variables["deal_result"] == "lost"
    assert finished.variables["loss_reason"] == "купил в другом месте"


def test_unavailable_stock_keeps_the_stage_and_an_unpaid_order_loses_the_deal(
    driver: Driver, fakes: FakeOperators
) -> None:
    fakes.answer("warehouse.check_stock", {"status": "needs_clarification"})
    deal = _start(driver, orders_count=1)
    _move(driver, deal, "awaiting_payment", **READY_TO_PAY)
    stock_task = driver.task(deal, "stock_task")
    driver.complete(stock_task, {**stock_task.data, "stock_status": "unavailable"}, WAREHOUSE)
    variables = driver.variables(deal)
    assert (variables["stage"], variables["stock_confirmed"]) == ("new", False)
    assert _refused(driver, deal, "picking") == {"stock_confirmed"}

    deal_id = variables["deal_id"]
    driver.deliver(
        "deal_event", correlation={"deal_id": deal_id}, variables={"stage": "payment_cancelled"}
    )
    finished = driver.instance(deal)
    assert finished.status == "completed"
    assert (finished.variables["stage"], finished.variables["loss_reason"]) == (
        "lost",
        "Заказ не оплачен вовремя",
    )
