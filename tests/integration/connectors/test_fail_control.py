"""Every double's fail control, seen through its real client over HTTP.

`POST /_control/fail` arms the next N calls: 500 → Transient, 429 → Transient with the
vendor's retry-after (2 s in these doubles), timeout → Transient after the client's read
timeout; then the double answers normally again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.avito import AvitoClient, AvitoConfig
from connectors.base import BaseClient, TransientConnectorError
from connectors.cdek import CdekClient, CdekConfig
from connectors.moysklad import MoySkladClient, MoySkladConfig, OrderLine
from connectors.nova_poshta import NovaPoshtaClient, NovaPoshtaConfig
from connectors.russian_post import RussianPostClient, RussianPostConfig
from connectors.sms import SmsConfig, make_sms_client
from connectors.telegram import TelegramClient, TelegramConfig
from connectors.whatsapp import WhatsAppClient, WhatsAppConfig
from connectors.yookassa import YooKassaClient, YooKassaConfig
from connectors.zzap import ZzapClient, ZzapConfig
from tests.integration.connectors.conftest import Sandbox

READ_TIMEOUT = 0.5


@dataclass(frozen=True)
class FailCase:
    system: str
    make: Callable[[Sandbox, float], BaseClient[Any]]
    call: Callable[[Any], Any]


CASES = [
    FailCase(
        "moysklad",
        lambda sb, t: MoySkladClient(sb.config(MoySkladConfig(), read_timeout=t)),
        lambda c: c.create_order(
            sync_id=str(uuid.uuid4()),
            lines=[
                OrderLine(product_id="0b4f3b26-0000-4000-8000-000000000201", quantity=1, price=1)
            ],
        ),
    ),
    FailCase(
        "yookassa",
        lambda sb, t: YooKassaClient(sb.config(YooKassaConfig(), read_timeout=t)),
        lambda c: c.create_payment(idempotence_key=str(uuid.uuid4()), amount=10, description="x"),
    ),
    FailCase(
        "cdek",
        lambda sb, t: CdekClient(sb.config(CdekConfig(), read_timeout=t)),
        lambda c: c.calculate_tariff(
            tariff_code=136,
            from_location={"city": "Москва"},
            to_location={"city": "Тверь"},
            packages=[{"weight": 500}],
        ),
    ),
    FailCase(
        "russian_post",
        lambda sb, t: RussianPostClient(sb.config(RussianPostConfig(), read_timeout=t)),
        lambda c: c.calculate_tariff(index_to="420111", mass=500),
    ),
    FailCase(
        "nova_poshta",
        lambda sb, t: NovaPoshtaClient(sb.config(NovaPoshtaConfig(), read_timeout=t)),
        lambda c: c.get_warehouses(city_name="Львів"),
    ),
    FailCase(
        "sms",
        lambda sb, t: make_sms_client(sb.config(SmsConfig(), read_timeout=t)),
        lambda c: c.send("79991234567", "код 1234"),
    ),
    FailCase(
        "telegram",
        lambda sb, t: TelegramClient(sb.config(TelegramConfig(), read_timeout=t)),
        lambda c: c.send_message(42, "Новый заказ"),
    ),
    FailCase(
        "whatsapp",
        lambda sb, t: WhatsAppClient(sb.config(WhatsAppConfig(), read_timeout=t)),
        lambda c: c.send_template("79991234567", "payment_link"),
    ),
    FailCase(
        "avito",
        lambda sb, t: AvitoClient(sb.config(AvitoConfig(), read_timeout=t)),
        lambda c: c.subscribe_webhook("http://127.0.0.1:9/hooks/avito"),
    ),
    FailCase(
        "zzap",
        lambda sb, t: ZzapClient(sb.config(ZzapConfig(), read_timeout=t)),
        lambda c: c.seller_orders() == [],
    ),
]


@pytest.fixture(params=CASES, ids=lambda case: case.system)
def case(request: pytest.FixtureRequest) -> FailCase:
    return request.param  # type: ignore[no-any-return]


def test_two_500s_then_success(sandbox: Sandbox, case: FailCase) -> None:
    sandbox.control(case.system, "fail", {"mode": "500", "count": 2})
    with case.make(sandbox, READ_TIMEOUT) as client:
        for _ in range(2):
            with pytest.raises(TransientConnectorError) as caught:
                case.call(client)
            assert caught.value.status_code == 500
        assert case.call(client)
    assert sandbox.state(case.system)["fault"] is None


def test_429_carries_retry_after(sandbox: Sandbox, case: FailCase) -> None:
    sandbox.control(case.system, "fail", {"mode": "429", "count": 1})
    with case.make(sandbox, READ_TIMEOUT) as client:
        with pytest.raises(TransientConnectorError) as caught:
            case.call(client)
        assert caught.value.status_code == 429
        assert caught.value.retry_after == pytest.approx(2.0)
        assert case.call(client)


def test_timeout_is_transient_and_does_nothing(sandbox: Sandbox, case: FailCase) -> None:
    before = sandbox.state(case.system)["records"]
    sandbox.control(case.system, "fail", {"mode": "timeout", "count": 1})
    with case.make(sandbox, READ_TIMEOUT) as client:
        with pytest.raises(TransientConnectorError, match="timed out"):
            case.call(client)
        assert sandbox.state(case.system)["records"] == before
        assert case.call(client)
