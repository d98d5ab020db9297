"""Nova Poshta client against its double over real HTTP: branches, waybill, tracking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.nova_poshta import NovaPoshtaClient, NovaPoshtaConfig
from connectors.nova_poshta.config import KYIV_REF, LVIV_REF
from tests.integration.connectors.conftest import Sandbox

PHONE = "380671234567"


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[NovaPoshtaClient]:
    with NovaPoshtaClient(sandbox.config(NovaPoshtaConfig())) as client:
        yield client


def waybill_fields(client: NovaPoshtaClient, branch: dict[str, Any]) -> dict[str, Any]:
    recipient = client.save_recipient(
        city_ref=LVIV_REF, first_name="Олена", last_name="Коваль", phone=PHONE
    )
    return {
        "PayerType": "Recipient",
        "PaymentMethod": "Cash",
        "DateTime": "02.06.2025",
        "CargoType": "Parcel",
        "Weight": "1.5",
        "ServiceType": "WarehouseWarehouse",
        "SeatsAmount": "1",
        "Description": "Взуття",
        "Cost": "1500",
        "CityRecipient": LVIV_REF,
        "Recipient": recipient["Ref"],
        "RecipientAddress": branch["Ref"],
        "ContactRecipient": recipient["ContactPerson"]["data"][0]["Ref"],
        "RecipientsPhone": PHONE,
    }


def test_branch_directory_follows_the_daily_status(
    client: NovaPoshtaClient, sandbox: Sandbox
) -> None:
    kyiv = client.get_warehouses(city_ref=KYIV_REF)
    assert len(kyiv) == 4 and {w["CityDescription"] for w in kyiv} == {"Київ"}
    assert client.get_warehouses(city_ref=KYIV_REF, page=2, limit=3)[0]["Number"] == "5"
    sandbox.control("nova_poshta", f"warehouses/{kyiv[0]['Ref']}/status", {"status": "Closed"})
    again = {w["Ref"]: w["WarehouseStatus"] for w in client.get_warehouses(city_name="Київ")}
    assert again[kyiv[0]["Ref"]] == "Closed"
    assert again[kyiv[1]["Ref"]] == "Working"


def test_waybill_once_per_order_then_tracking(client: NovaPoshtaClient, sandbox: Sandbox) -> None:
    branch = client.get_warehouses(city_ref=LVIV_REF)[0]
    fields = waybill_fields(client, branch)
    waybill = client.create_waybill("SHOP-42", fields)
    again = client.create_waybill("SHOP-42", fields)
    assert again["IntDocNumber"] == waybill["IntDocNumber"]
    assert waybill["EstimatedDeliveryDate"] == "04.06.2025"
    assert len(sandbox.records("nova_poshta", "waybill")) == 1
    number = waybill["IntDocNumber"]
    assert client.track([(number, PHONE)])[0]["StatusCode"] == "1"
    sandbox.control("nova_poshta", f"waybills/{number}/status", {"code": "9"})
    tracked = client.track([(number, PHONE), ("20400000000000", PHONE)])
    assert [row["StatusCode"] for row in tracked] == ["9", "3"]
    assert tracked[0]["Status"] == "Відправлення отримано"


def test_refusals_come_as_200_with_success_false(
    client: NovaPoshtaClient, sandbox: Sandbox
) -> None:
    with pytest.raises(PermanentConnectorError) as missing:
        client.create_waybill("SHOP-1", {"DateTime": "02.06.2025", "Weight": "1"})
    assert missing.value.status_code == 200
    assert missing.value.vendor_message == "PayerType is empty"
    bad = sandbox.config(NovaPoshtaConfig(), api_key=SecretStr("expired"))
    with NovaPoshtaClient(bad) as stranger, pytest.raises(PermanentConnectorError) as denied:
        stranger.get_warehouses()
    assert denied.value.vendor_message == "API auth fail"
    assert denied.value.vendor_code == "20000100003"
