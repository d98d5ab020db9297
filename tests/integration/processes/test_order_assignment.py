"""order_assignment: an invisible buffer of buffer_seconds, then one blind task per order.

No operators. Start variables: order {number, source, arrived_at, amount, customer, items,
comment} and settings? {buffer_seconds (default 60), cooldown_seconds (default 60)}. The blind
offer, first-click-wins, cool-down, FIFO and online-only rules are queue policies of the
inbox/Telegram surface, keyed by the task's `queue` property ("orders"); the task's
`blindFields` property names what an unclaimed offer may show.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.db import session_scope
from engine.definitions import get_definition_or_raise
from engine.errors import TaskAlreadyClaimed
from engine.models import utcnow
from engine.service import parsed_definition
from tests.integration.processes.conftest import MANAGER, OTHER_MANAGER, Driver, close_to

ORDER = {
    "number": "ZZ-100500",
    "source": "zzap:account-2",
    "arrived_at": "2026-11-30T09:15:00+03:00",
    "amount": 12990.0,
    "customer": {"name": "ООО Автодеталь", "phone": "+79130000000"},
    "items": [{"sku": "BOSCH-0986", "name": "Колодки", "qty": 2, "price": 6495.0}],
}


def _start(driver: Driver, **variables: Any) -> str:
    driver.deploy("order_assignment.bpmn", "order")
    return driver.start("order_assignment", {"order": ORDER, **variables})


def test_the_order_is_invisible_during_the_buffer_then_offered_to_managers(
    driver: Driver,
) -> None:
    flow = _start(driver, settings={"buffer_seconds": 45, "cooldown_seconds": 90})
    assert close_to(
        driver.timers(flow)["buffer"], utcnow() + timedelta(seconds=45), timedelta(seconds=5)
    )
    assert driver.tasks(flow) == []  # nobody sees it yet
    assert driver.variables(flow)["cooldown_seconds"] == 90

    assert driver.fire_timers(after=timedelta(seconds=30)) == 0
    assert driver.tasks(flow) == []
    assert driver.fire_timers(after=timedelta(seconds=46)) == 1
    task = driver.task(flow, "take_task")
    assert (task.lane, task.candidate_groups) == ("managers", ["managers"])
    assert (task.data["order_number"], task.data["arrived_at"]) == (
        "ZZ-100500",
        "2026-11-30T09:15:00+03:00",
    )

    driver.claim(task, MANAGER)
    with pytest.raises(TaskAlreadyClaimed):
        driver.claim(task, OTHER_MANAGER)
    driver.complete(task, {**task.data, "order_result": "confirmed"}, MANAGER)
    finished = driver.instance(flow)
    assert finished.status == "completed"
    assert driver.tasks(flow, state="completed")[0].completed_by == "ivanov"


def test_the_buffer_defaults_to_60_seconds_and_the_task_names_its_queue(driver: Driver) -> None:
    flow = _start(driver)
    assert close_to(
        driver.timers(flow)["buffer"], utcnow() + timedelta(seconds=60), timedelta(seconds=5)
    )
    variables = driver.variables(flow)
    assert (variables["buffer_seconds"], variables["cooldown_seconds"]) == (60, 60)
    with session_scope(driver.factory) as session:
        definition = get_definition_or_raise(session, key="order_assignment")
        spec = parsed_definition(definition).spec.task_specs["take_task"]
    properties = spec.extensions["properties"]
    assert properties["queue"] == "orders"
    assert properties["blindFields"] == "order_number,arrived_at"
