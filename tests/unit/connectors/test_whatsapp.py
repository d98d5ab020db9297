"""WhatsApp client on the wire: message shapes, Graph API errors, throttling codes, HMAC."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.whatsapp import WhatsAppClient, WhatsAppConfig, sign_body, signature_valid
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = WhatsAppConfig(base_url="https://graph.facebook.com/v21.0", phone_number_id="555")
SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "79991234567", "wa_id": "79991234567"}],
    "messages": [{"id": "wamid.HBgL"}],
}


def make(transport: httpx.BaseTransport) -> WhatsAppClient:
    return WhatsAppClient(CONFIG, transport=transport)


def graph_error(message: str, code: int = 100) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    }


test_contract = contract_test(
    Contract(
        name="send_text",
        make=make,
        call=lambda c: c.send_text("+7 999 123-45-67", "Ссылка на оплату: https://pay"),
        ok=SENT,
        error=graph_error,
        check=lambda sent: sent["messages"][0]["id"] == "wamid.HBgL",
    ),
    Contract(
        name="send_template",
        make=make,
        call=lambda c: c.send_template("79991234567", "payment_link"),
        ok=SENT,
        error=graph_error,
        check=lambda sent: sent["contacts"][0]["wa_id"] == "79991234567",
    ),
)


def test_message_shapes() -> None:
    vendor = FakeVendor({"POST /555/messages": SENT})
    with make(vendor.transport()) as client:
        client.send_text("+7 999 123-45-67", "Привет")
        client.send_template("79991234567", "order_shipped", components=[{"type": "body"}])
        client.send_buttons("79991234567", "Подтвердите заказ", [("yes", "Да"), ("no", "Нет")])
    assert vendor.requests[0].headers["Authorization"] == "Bearer sandbox-whatsapp-access-token"
    assert vendor.body(0) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "79991234567",
        "type": "text",
        "text": {"body": "Привет", "preview_url": False},
    }
    assert vendor.body(1)["template"] == {
        "name": "order_shipped",
        "language": {"code": "ru"},
        "components": [{"type": "body"}],
    }
    buttons = vendor.body(2)["interactive"]["action"]["buttons"]
    assert buttons[1] == {"type": "reply", "reply": {"id": "no", "title": "Нет"}}


def test_throttling_code_in_a_400_is_transient() -> None:
    vendor = FakeVendor({"POST /555/messages": (400, graph_error("Rate limit hit", 130429))})
    with make(vendor.transport()) as client, pytest.raises(TransientConnectorError) as caught:
        client.send_text("79991234567", "x")
    assert caught.value.vendor_code == "130429"


def test_error_details_are_kept_and_four_buttons_refused() -> None:
    body = graph_error("Invalid parameter", 131009)
    body["error"]["error_data"] = {"details": "Button title length invalid"}
    vendor = FakeVendor({"POST /555/messages": (400, body)})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.send_buttons("79991234567", "x", [("a", "A")])
    assert caught.value.vendor_message == "Invalid parameter: Button title length invalid"
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError):
        client.send_buttons("79991234567", "x", [("a", "A")] * 4)


def test_webhook_signature() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    header = sign_body("secret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_valid("secret", body, header)
    assert not signature_valid("secret", body + b" ", header)
    assert not signature_valid("other", body, header)
    assert not signature_valid("secret", body, None)
