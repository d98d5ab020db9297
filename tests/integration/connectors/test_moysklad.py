"""MoySklad client against its double over real HTTP: idempotent orders, reserve, write-off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.moysklad import MoySkladClient, MoySkladConfig, OrderLine
from tests.integration.connectors.conftest import Sandbox

SNEAKERS = "0b4f3b26-0000-4000-8000-000000000201"
OIL = "0b4f3b26-0000-4000-8000-000000000203"
LINES = [
    OrderLine(product_id=SNEAKERS, quantity=2, price=599000),
    OrderLine(product_id=OIL, quantity=1, price=329000, discount=10),
]


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[MoySkladClient]:
    with MoySkladClient(sandbox.config(MoySkladConfig())) as client:
        yield client


def stock_of(client: MoySkladClient, product_id: str) -> dict[str, float]:
    row = next(r for r in client.stock() if r["meta"]["href"].endswith(product_id))
    return {key: row[key] for key in ("stock", "reserve", "quantity")}


def test_same_sync_id_twice_creates_one_reserved_order(
    client: MoySkladClient, sandbox: Sandbox
) -> None:
    sync_id = str(uuid.uuid4())
    first = client.create_order(sync_id=sync_id, lines=LINES, description="Сделка 42")
    second = client.create_order(sync_id=sync_id, lines=LINES, description="Сделка 42")
    assert first["id"] == second["id"]
    assert len(sandbox.records("moysklad", "customerorder")) == 1
    assert first["sum"] == 2 * 599000 + 296100
    assert first["reservedSum"] == 2 * 599000 + 296100
    assert first["state"]["meta"]["type"] == "state"
    assert stock_of(client, SNEAKERS) == {"stock": 10.0, "reserve": 2.0, "quantity": 8.0}
    order = client.get_order(first["id"], with_positions=True)
    assert order["positions"]["meta"]["size"] == 2
    assert order["positions"]["rows"][0]["reserve"] == 2.0


def test_demand_and_payment_are_linked_to_the_order(client: MoySkladClient) -> None:
    order = client.create_order(sync_id=str(uuid.uuid4()), lines=LINES)
    demand = client.create_demand(order["id"], sync_id="demand-1")
    again = client.create_demand(order["id"], sync_id="demand-1")
    payment = client.create_payment_in(order["id"], sync_id="pay-1", purpose="YooKassa 2d5")
    assert again["id"] == demand["id"]
    assert demand["customerOrder"]["meta"]["href"] == order["meta"]["href"]
    assert demand["sum"] == order["sum"]
    assert payment["operations"][0]["meta"]["href"] == order["meta"]["href"]
    assert payment["sum"] == order["sum"]
    after = client.get_order(order["id"])
    assert after["shippedSum"] == order["sum"]
    assert after["payedSum"] == order["sum"]
    assert after["reservedSum"] == 0
    assert stock_of(client, SNEAKERS) == {"stock": 8.0, "reserve": 0.0, "quantity": 8.0}


def test_state_change_and_cancel_release_the_reserve(client: MoySkladClient) -> None:
    order = client.create_order(sync_id=str(uuid.uuid4()), lines=LINES)
    confirmed = client.set_order_state(order["id"], "Подтвержден")
    assert confirmed["state"]["meta"] == client.state("Подтвержден")["meta"]
    cancelled = client.cancel_order(order["id"])
    assert cancelled["state"]["meta"] == client.state("Отменен")["meta"]
    assert cancelled["reservedSum"] == 0
    assert stock_of(client, SNEAKERS)["reserve"] == 0.0


def test_webhook_delivers_href_with_request_id_and_skips_own_writes(sandbox: Sandbox) -> None:
    url = sandbox.receiver("moysklad")
    config = sandbox.config(MoySkladConfig(), webhook_disable_prefix=url)
    with MoySkladClient(config) as own, MoySkladClient(sandbox.config(MoySkladConfig())) as other:
        own.register_webhook(url=url, action="UPDATE", entity_type="customerorder")
        own.register_webhook(url=url, action="UPDATE", entity_type="customerorder")
        order = own.create_order(sync_id=str(uuid.uuid4()), lines=LINES)
        own.set_order_state(order["id"], "Подтвержден")  # our own write: no echo
        other.set_order_state(order["id"], "Собран")
        assert len(own.webhooks()) == 1
    delivered = sandbox.wait_received("moysklad")
    assert len(delivered) == 1
    assert delivered[0].query["requestId"]
    event = delivered[0].json()["events"][0]
    assert event["action"] == "UPDATE"
    assert event["meta"] == {"type": "customerorder", "href": order["meta"]["href"]}


def test_warehouse_state_change_in_the_ui_emits_update(sandbox: Sandbox) -> None:
    with MoySkladClient(sandbox.config(MoySkladConfig())) as client:
        client.register_webhook(
            url=sandbox.receiver("ms"), action="UPDATE", entity_type="customerorder"
        )
        order = client.create_order(sync_id=str(uuid.uuid4()), lines=LINES)
    sandbox.control("moysklad", f"orders/{order['id']}/state", {"state": "Собран"})
    assert sandbox.wait_received("ms")[0].json()["events"][0]["updatedFields"] == ["state"]


def test_wrong_token_and_unknown_product_are_permanent_with_vendor_text(
    sandbox: Sandbox, client: MoySkladClient
) -> None:
    bad = sandbox.config(MoySkladConfig(), token=SecretStr("wrong"))
    with MoySkladClient(bad) as stranger, pytest.raises(PermanentConnectorError) as denied:
        stranger.stock()
    assert denied.value.status_code == 401
    assert denied.value.vendor_code == "1056"
    assert "Ошибка аутентификации" in (denied.value.vendor_message or "")
    line = OrderLine(product_id=str(uuid.uuid4()), quantity=1, price=1)
    with pytest.raises(PermanentConnectorError) as missing:
        client.create_order(sync_id=str(uuid.uuid4()), lines=[line])
    assert missing.value.status_code == 404
    assert "не найден" in (missing.value.vendor_message or "")
