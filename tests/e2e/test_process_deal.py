"""deal_pipeline end to end over REST: deals start as the lead (or an integration) starts
them — message deal_start — and the manager leads them through the stage task; the warehouse
gate asks the MoySklad double's stock report."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_process_shop import (  # noqa: F401
    Shop,
    demo_database_fixture,
    shop_fixture,
    shop_port_fixture,
)

HEADLIGHTS = {"sku": "GZ-330", "name": "Фара левая", "qty": 5, "price": 5390.0, "weight": 2.0}
READY = {
    "items": [HEADLIGHTS],
    "amount": 26950.0,
    "delivery_method": "courier",
    "delivery_address": "Москва, ул. Тверская, 7",
}


def _deal(shop: Shop, orders_count: int = 0, **extra: Any) -> str:
    answer = shop.api(
        "ivan",
        "POST",
        "/messages",
        json={
            "name": "deal_start",
            "variables": {
                "customer": {
                    "name": "Ольга",
                    "phone": "+79130000003",
                    "city": "Москва",
                    "orders_count": orders_count,
                },
                "manager": "maria",
                "channel": "whatsapp",
                "contact": "79130000003",
                "lead_source": "whatsapp",
                **extra,
            },
        },
    )
    assert answer.status_code == 200, answer.text
    shop.run_jobs()
    return str(answer.json()["started"][0])


def _refused(shop: Shop, deal: str, next_stage: str, **fields: Any) -> set[str]:
    task = shop.task("maria", deal, "stage_task")
    answer = shop.complete("maria", task, 422, next_stage=next_stage, **fields)
    return {str(detail["loc"][-1]) for detail in answer.json()["error"]["details"]}


def test_stage_rules_the_warehouse_gate_accepted_by_and_the_history(shop: Shop) -> None:
    deal = _deal(shop)
    assert _refused(shop, deal, "awaiting_payment") == {"items", "amount", "delivery_method"}
    assert _refused(shop, deal, "awaiting_payment", **READY | {"delivery_address": ""}) == {
        "delivery_address"
    }
    assert _refused(shop, deal, "picking") == {"stock_confirmed"}
    assert _refused(shop, deal, "lost") == {"loss_reason"}
    task = shop.task("maria", deal, "stage_task")
    other = shop.api("ivan", "POST", f"/tasks/{task['id']}/complete", json={"data": task["data"]})
    assert other.status_code == 403  # only the deal's manager (or an admin)

    # the admin moves it for maria; five headlights, the MoySklad double has three
    shop.complete("admin", task, next_stage="awaiting_payment", accepted_by="ivan", **READY)
    variables = shop.instance(deal)["variables"]
    assert variables["stock"]["status"] == "needs_clarification"
    assert variables["accepted_by"] == "maria"  # set by the process once, read-only
    stock = shop.task("pavel", deal, "stock_task")
    assert stock["lane"] == "warehouse"
    shop.complete("pavel", stock, stock_status="unavailable")
    assert shop.instance(deal)["variables"]["stage"] == "new"  # no payment requested
    assert _refused(shop, deal, "picking") == {"stock_confirmed"}  # still not confirmed
    assert shop.instances("payment_to_shipment") == []

    history = shop.api("admin", "GET", f"/instances/{deal}/history").json()["items"]
    moved = [e for e in history if e["type"] == "task_completed" and "amount" in e["changes"]]
    assert moved[0]["actor"] == "admin" and moved[0]["changes"]["amount"] == [0, 26950.0]
    assert any(e["type"] == "task_completed" and e["actor"] == "pavel" for e in history)


def test_only_a_first_purchase_gets_a_confirmation_call(shop: Shop) -> None:
    first = _deal(shop, orders_count=0)
    ready = READY | {"items": [HEADLIGHTS | {"qty": 1}], "amount": 5390.0}
    shop.complete(
        "maria", shop.task("maria", first, "stage_task"), next_stage="awaiting_payment", **ready
    )
    assert [t["element_id"] for t in shop.tasks("maria", instance_id=first)] == ["confirm_task"]

    repeat = _deal(shop, orders_count=4)
    shop.complete(
        "maria", shop.task("maria", repeat, "stage_task"), next_stage="awaiting_payment", **ready
    )
    assert [t["element_id"] for t in shop.tasks("maria", instance_id=repeat)] == ["stage_task"]
    assert shop.instance(repeat)["variables"]["stage"] == "awaiting_payment"
    assert len(shop.instances("payment_to_shipment")) == 1  # the repeat customer's payment


def test_copy_deal_starts_a_new_deal_linked_to_the_old_one(shop: Shop) -> None:
    old = _deal(shop, items=[HEADLIGHTS], amount=26950.0)
    old_id = shop.instance(old)["variables"]["deal_id"]
    copy = _deal(shop, items=[HEADLIGHTS], amount=26950.0, copied_from=old_id)
    variables = shop.instance(copy)["variables"]
    assert variables["copied_from"] == old_id and variables["deal_id"] != old_id
    assert variables["items"] == [HEADLIGHTS]
