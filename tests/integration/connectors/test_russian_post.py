"""Russian Post client against its double over real HTTP: tariff, one shipment per order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.russian_post import RussianPostClient, RussianPostConfig
from tests.integration.connectors.conftest import Sandbox


def order(number: str, **changes: Any) -> dict[str, Any]:
    return {
        "order-num": number,
        "address-type-to": "DEFAULT",
        "mail-type": "POSTAL_PARCEL",
        "mail-category": "ORDINARY",
        "mass": 1200,
        "index-to": "420111",
        "region-to": "Татарстан",
        "place-to": "Казань",
        "street-to": "Баумана",
        "house-to": "5",
        "given-name": "Иван",
        "surname": "Петров",
        "recipient-name": "Иван Петров",
        "tel-address": 79991234567,
    } | changes


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[RussianPostClient]:
    with RussianPostClient(sandbox.config(RussianPostConfig())) as client:
        yield client


def test_shipment_is_created_once_and_can_be_deleted(
    client: RussianPostClient, sandbox: Sandbox
) -> None:
    first = client.create_shipment(order("SHOP-42"))
    again = client.create_shipment(order("SHOP-42"))
    assert first["id"] == again["id"]
    assert first["place-to"] == "Казань"
    assert len(sandbox.records("russian_post", "shipment")) == 1
    assert client.get_shipment(first["id"])["order-num"] == "SHOP-42"
    assert client.delete_shipment(first["id"]) == {"result-ids": [first["id"]]}
    with pytest.raises(PermanentConnectorError) as caught:
        client.get_shipment(first["id"])
    assert caught.value.status_code == 404


def test_rejected_order_names_the_vendor_codes(client: RussianPostClient) -> None:
    with pytest.raises(PermanentConnectorError) as caught:
        client.create_shipment(order("SHOP-43", **{"index-to": "", "mail-type": "PIGEON"}))
    assert caught.value.vendor_code == "EMPTY_INDEX_TO"
    assert "Неверный вид отправления" in (caught.value.vendor_message or "")


def test_tariff_in_kopecks(client: RussianPostClient) -> None:
    tariff = client.calculate_tariff(index_to="420111", mass=1200)
    assert tariff["total-rate"] + tariff["total-vat"] == 18_000 + 3 * 1_500


def test_missing_user_authorization_is_401(sandbox: Sandbox) -> None:
    config = sandbox.config(RussianPostConfig(), password=SecretStr("wrong"))
    with RussianPostClient(config) as stranger, pytest.raises(PermanentConnectorError) as caught:
        stranger.calculate_tariff(index_to="420111", mass=100)
    assert caught.value.status_code == 401 and caught.value.vendor_code == "UNAUTHORIZED"
