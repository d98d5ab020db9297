"""WhatsApp client against its double over real HTTP: window, templates, signed webhooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from connectors.whatsapp import WhatsAppClient, WhatsAppConfig, signature_valid
from tests.integration.connectors.conftest import Received, Sandbox

CUSTOMER = "79991234567"
APP_SECRET = WhatsAppConfig().app_secret.get_secret_value()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[WhatsAppClient]:
    sandbox.control("whatsapp", "webhook", {"url": sandbox.receiver("wa")})
    with WhatsAppClient(sandbox.config(WhatsAppConfig())) as client:
        yield client


def value(received: Received) -> dict[str, object]:
    return received.json()["entry"][0]["changes"][0]["value"]  # type: ignore[no-any-return]


def test_customer_writes_then_gets_a_text_with_statuses(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    sandbox.control("whatsapp", "inbound", {"from": CUSTOMER, "text": "Хочу фары", "name": "Иван"})
    [inbound] = sandbox.wait_received("wa")
    assert signature_valid(APP_SECRET, inbound.body, inbound.headers["x-hub-signature-256"])
    message = value(inbound)["messages"][0]  # type: ignore[index]
    assert message["text"]["body"] == "Хочу фары" and message["id"].startswith("wamid.")
    sent = client.send_text(CUSTOMER, "Здравствуйте! Как к вам обращаться?")
    wamid = sent["messages"][0]["id"]
    received = sandbox.wait_received("wa", 3)
    statuses = [value(item)["statuses"][0] for item in received[1:]]  # type: ignore[index]
    assert [(s["id"], s["status"]) for s in statuses] == [(wamid, "sent"), (wamid, "delivered")]


def test_text_outside_the_window_fails_later_template_goes_through(
    client: WhatsAppClient, sandbox: Sandbox
) -> None:
    accepted = client.send_text(CUSTOMER, "Ваш заказ отправлен")
    [failed] = sandbox.wait_received("wa")
    status = value(failed)["statuses"][0]  # type: ignore[index]
    assert status["id"] == accepted["messages"][0]["id"]
    assert status["status"] == "failed" and status["errors"][0]["code"] == 131047
    template = client.send_template(CUSTOMER, "order_shipped")["messages"][0]["id"]
    later = [value(item)["statuses"][0] for item in sandbox.wait_received("wa", 3)[1:]]  # type: ignore[index]
    assert [(s["id"], s["status"]) for s in later] == [(template, "sent"), (template, "delivered")]
    with pytest.raises(PermanentConnectorError) as unknown:
        client.send_template(CUSTOMER, "not_approved")
    assert unknown.value.vendor_code == "132001"


def test_bad_token_and_bad_body(sandbox: Sandbox, client: WhatsAppClient) -> None:
    bad = sandbox.config(WhatsAppConfig(), access_token=SecretStr("nope"))
    with WhatsAppClient(bad) as stranger, pytest.raises(PermanentConnectorError) as denied:
        stranger.send_template(CUSTOMER, "order_shipped")
    assert denied.value.status_code == 401 and denied.value.vendor_code == "190"
    with pytest.raises(PermanentConnectorError) as invalid:
        client.send_text("12", "x")
    assert invalid.value.vendor_message == "(#100) Invalid parameter: to"


def test_verify_handshake_against_a_url(sandbox: Sandbox) -> None:
    answer = sandbox.control("whatsapp", "verify", {"url": sandbox.receiver("handshake")})
    assert answer["verified"] is False  # the receiver does not echo hub.challenge
    [request] = sandbox.wait_received("handshake")
    assert request.query["hub.mode"] == "subscribe"
    assert request.query["hub.verify_token"] == "sandbox-whatsapp-verify-token"
