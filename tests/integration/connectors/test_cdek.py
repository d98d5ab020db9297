"""CDEK client against its double over real HTTP: token, async registration, statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.cdek import CdekClient, CdekConfig
from tests.integration.connectors.conftest import Sandbox

PACKAGE = {"number": "1", "weight": 1200, "length": 30, "width": 20, "height": 10, "items": []}


def order(number: str, phones: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "type": 1,
        "number": number,
        "tariff_code": 136,
        "from_location": {"city": "Москва", "address": "ул. Складская, 1"},
        "to_location": {"city": "Казань", "address": "ул. Баумана, 5"},
        "recipient": {
            "name": "Иван Петров",
            "phones": [{"number": "+79991234567"}] if phones is None else phones,
        },
        "packages": [PACKAGE],
    }


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[CdekClient]:
    config = sandbox.config(CdekConfig(), poll_interval=0.01, max_polls=5)
    with CdekClient(config) as client:
        yield client


def test_create_polls_until_registered_and_retry_reuses_the_order(
    client: CdekClient, sandbox: Sandbox
) -> None:
    client.subscribe_webhook(sandbox.receiver("cdek"))
    first = client.create_order(order("SHOP-42"))
    again = client.create_order(order("SHOP-42"))
    assert first["entity"]["uuid"] == again["entity"]["uuid"]
    assert first["requests"][0]["state"] == "SUCCESSFUL"
    assert first["entity"]["cdek_number"]
    assert [s["code"] for s in first["entity"]["statuses"]] == ["CREATED", "ACCEPTED"]
    assert len(sandbox.records("cdek", "order")) == 1
    event = sandbox.wait_received("cdek")[0].json()
    assert event["type"] == "ORDER_STATUS" and event["uuid"] == first["entity"]["uuid"]
    assert event["attributes"]["code"] == "CREATED"
    assert client.find_order("SHOP-42")["entity"]["uuid"] == first["entity"]["uuid"]  # type: ignore[index]
    assert client.find_order("SHOP-404") is None


def test_courier_status_reaches_the_webhook(client: CdekClient, sandbox: Sandbox) -> None:
    client.subscribe_webhook(sandbox.receiver("cdek"))
    created = client.create_order(order("SHOP-7"))
    uuid = created["entity"]["uuid"]
    sandbox.control("cdek", f"orders/{uuid}/status", {"code": "DELIVERED", "city": "Казань"})
    events = sandbox.wait_received("cdek", 2)
    # The double announces "created" from a background task, so the two webhooks may
    # arrive in either order: pick the delivered one by its code.
    codes = [event.json()["attributes"]["code"] for event in events]
    assert len(codes) == 2 and "DELIVERED" in codes, codes
    delivered = next(
        e.json()["attributes"] for e in events if e.json()["attributes"]["code"] == "DELIVERED"
    )
    assert delivered["status_code"] == "4"
    assert delivered["cdek_number"] == created["entity"]["cdek_number"]
    assert client.get_order(uuid)["entity"]["statuses"][0]["code"] == "DELIVERED"


def test_rejected_order_is_permanent_with_cdek_errors(client: CdekClient) -> None:
    with pytest.raises(PermanentConnectorError) as caught:
        client.create_order(order("SHOP-8", phones=[]))
    assert caught.value.vendor_code == "v2_recipient_phones_empty"
    with pytest.raises(PermanentConnectorError) as schema:
        client.create_order({"number": "SHOP-9", "tariff_code": 136})
    assert schema.value.status_code == 400
    assert schema.value.vendor_code == "v2_field_is_empty"


def test_tariff(client: CdekClient) -> None:
    tariff = client.calculate_tariff(
        tariff_code=136,
        from_location={"city": "Москва"},
        to_location={"city": "Казань"},
        packages=[PACKAGE],
    )
    assert tariff["delivery_sum"] == 370.0 and tariff["currency"] == "RUB"
    assert (tariff["period_min"], tariff["period_max"]) == (3, 5)


def test_revoked_token_is_renewed_once_and_wrong_secret_is_permanent(
    client: CdekClient, sandbox: Sandbox
) -> None:
    created = client.create_order(order("SHOP-10"))
    assert sandbox.control("cdek", "expire_tokens")["expired"] == 1
    assert client.get_order(created["entity"]["uuid"])["entity"]["number"] == "SHOP-10"
    bad = sandbox.config(CdekConfig(), client_secret=SecretStr("nope"))
    with CdekClient(bad) as stranger, pytest.raises(PermanentConnectorError) as caught:
        stranger.get_order(created["entity"]["uuid"])
    assert caught.value.status_code == 401 and caught.value.vendor_message == "Bad credentials"
