"""zzap client against its double over real HTTP: orders of several accounts, kept apart."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.zzap import ZzapAccount, ZzapClient, ZzapConfig, zzap_accounts
from tests.integration.connectors.conftest import Sandbox


def test_each_account_sees_its_own_orders(sandbox: Sandbox) -> None:
    sandbox.control(
        "zzap",
        "orders",
        {
            "login": "auto3-main",
            "orders": [
                {"partnumber": "8E0941003", "class_man": "VAG", "qty": 1, "price": 12500},
                {
                    "partnumber": "OC90",
                    "class_man": "KNECHT",
                    "qty": 2,
                    "price": 450,
                    "create_date": "01.01.2024 08:00:00",
                },
            ],
        },
    )
    sandbox.control(
        "zzap",
        "orders",
        {
            "login": "auto3-second",
            "orders": [
                {"partnumber": "1K0615301AA", "class_man": "VAG", "qty": 2},
            ],
        },
    )
    with zzap_accounts(sandbox.config(ZzapConfig())) as accounts:
        polled = {name: client.seller_orders() for name, client in accounts}
        recent = accounts.get("auto3-main").seller_orders(
            date_from=datetime.now() - timedelta(hours=1)
        )
    assert [o["partnumber"] for o in polled["auto3-main"]] == ["8E0941003", "OC90"]
    assert [o["partnumber"] for o in polled["auto3-second"]] == ["1K0615301AA"]
    assert {o["account"] for o in polled["auto3-second"]} == {"auto3-second"}
    assert [o["partnumber"] for o in recent] == ["8E0941003"]
    assert recent[0]["code_order"] == 7_000_001 and recent[0]["qty_order"] == 1


def test_wrong_api_key_is_permanent_with_zzaps_text(sandbox: Sandbox) -> None:
    wrong = ZzapAccount(login="auto3-main", password=SecretStr("x"), api_key=SecretStr("y"))
    config = sandbox.config(ZzapConfig(), accounts={"main": wrong})
    with ZzapClient(config, "main") as client, pytest.raises(PermanentConnectorError) as caught:
        client.seller_orders()
    assert caught.value.vendor_message == "Неверный логин, пароль или api_key"
