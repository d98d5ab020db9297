"""notify.sms / notify.message against mocked gateways and messengers; loyalty.credit."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from engine.jobs import is_transient
from engine.operators import HandlerContext
from engine.outbox import _SENDERS, OutboxItem
from handlers import loyalty, notify
from handlers.base import HandlerRefusal
from handlers.clients import Clients, sign, use_clients
from handlers.ledger import LoyaltyLedger
from handlers.settings import SiteChatConfig
from tests.unit.handlers.conftest import FakeVendor, context

SMS_OK = {
    "status": "OK",
    "status_code": 100,
    "sms": {"79131234567": {"status": "OK", "status_code": 100, "sms_id": "000000-10000001"}},
    "balance": 4122.56,
}
TELEGRAM_OK = {"ok": True, "result": {"message_id": 7, "chat": {"id": 42}, "text": "…"}}
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}


def test_sms_goes_to_the_gateway_as_a_form(vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.on("POST", "/sms/send", SMS_OK)
    result = notify.sms(ctx=ctx, phone="+7 (913) 123-45-67", text="Оплата получена")
    (form,) = vendor.sent("POST", "/sms/send")
    assert form == {
        "api_id": "sandbox-smsru-api-id",
        "json": "1",
        "to": "79131234567",
        "msg": "Оплата получена",
    }
    assert result == {"channel": "sms", "message_id": "000000-10000001", "phone": "79131234567"}


def test_sms_refused_by_the_gateway_is_permanent(vendor: FakeVendor, ctx: HandlerContext) -> None:
    refused = {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер"}
    vendor.on("POST", "/sms/send", {"status": "OK", "sms": {"79131234567": refused}})
    with pytest.raises(PermanentConnectorError) as caught:
        notify.sms(ctx=ctx, phone="79131234567", text="x")
    assert caught.value.vendor_message == "Неправильно указан номер"


def test_sms_needs_a_phone(vendor: FakeVendor, ctx: HandlerContext) -> None:
    with pytest.raises(HandlerRefusal):
        notify.sms(ctx=ctx, phone="", text="x")
    assert vendor.requests == []


def test_telegram_message_goes_to_the_customers_bot(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.on("POST", "/sendMessage", TELEGRAM_OK)
    result = notify.message(ctx=ctx, channel="telegram", contact="42", phone="", text="Привет")
    (call,) = vendor.calls("POST", "/sendMessage")
    assert "/bot700000002:" in call.url.path  # the customers' bot token
    assert json.loads(call.content) == {"chat_id": "42", "text": "Привет"}
    assert result == {"channel": "telegram", "requested_channel": "telegram", "message_id": "7"}


def test_a_blocked_bot_falls_back_to_sms_when_the_phone_is_known(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.on("POST", "/sendMessage", BLOCKED, status=403)
    vendor.on("POST", "/sms/send", SMS_OK)
    result = notify.message(
        ctx=ctx, channel="telegram", contact="42", phone="+79131234567", text="Ссылка"
    )
    assert result["channel"] == "sms" and result["requested_channel"] == "telegram"
    assert result["fallback"] == "Forbidden: bot was blocked by the user"
    with pytest.raises(PermanentConnectorError):
        notify.message(ctx=ctx, channel="telegram", contact="42", phone="", text="Ссылка")


def test_a_messenger_outage_is_retried_not_replaced_by_sms(
    vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.fail(502)
    with pytest.raises(TransientConnectorError) as caught:
        notify.message(ctx=ctx, channel="telegram", contact="42", phone="+7913", text="x")
    assert is_transient(caught.value)
    assert vendor.calls("POST", "/sms/send") == []


def test_whatsapp_and_avito(vendor: FakeVendor, ctx: HandlerContext) -> None:
    vendor.on("POST", "/100000000000001/messages", {"messages": [{"id": "wamid.X"}]})
    vendor.on("POST", "/token", {"access_token": "avito-token", "expires_in": 86400})
    vendor.on("POST", "/chats/u2i-1/messages", {"id": "m-1", "direction": "out"})
    sent = notify.message(ctx=ctx, channel="whatsapp", contact="79131234567", text="Здравствуйте")
    assert sent["message_id"] == "wamid.X"
    (body,) = vendor.sent("POST", "/messages")[:1]
    assert body["to"] == "79131234567" and body["text"]["body"] == "Здравствуйте"
    replied = notify.message(ctx=ctx, channel="avito", contact="u2i-1", text="Есть в наличии")
    assert replied["message_id"] == "m-1"
    (avito,) = vendor.sent("POST", "/chats/u2i-1/messages")
    assert avito == {"message": {"text": "Есть в наличии"}, "type": "text"}


@pytest.mark.parametrize("channel", ["sms", "call", "vk"])
def test_channels_without_a_messenger_go_out_as_sms(
    channel: str, vendor: FakeVendor, ctx: HandlerContext
) -> None:
    vendor.on("POST", "/sms/send", SMS_OK)
    result = notify.message(ctx=ctx, channel=channel, contact="c", phone="+79131234567", text="x")
    assert result["channel"] == "sms" and "fallback" not in result


def test_site_chat_replies_through_the_widget_backend_signed(
    vendor: FakeVendor, clients: Clients
) -> None:
    widget = SiteChatConfig(reply_url="https://shop.example/chat/reply")
    settings = clients.settings.model_copy(update={"site_chat": widget})
    own = Clients(settings, transport=httpx.MockTransport(vendor))
    vendor.on("POST", "/chat/reply", {"ok": True})
    result = notify.message(ctx=context(own), channel="site_chat", contact="v-9", text="Да")
    (call,) = vendor.calls("POST", "/chat/reply")
    assert call.headers["X-Potok-Signature"] == sign("development-site-chat-secret", call.content)
    assert json.loads(call.content)["contact"] == "v-9"
    assert result["channel"] == "site_chat"
    # without a backend the reply goes out as SMS
    vendor.on("POST", "/sms/send", SMS_OK)
    fallback = notify.message(
        ctx=context(clients), channel="site_chat", contact="v-9", phone="+79131234567", text="Да"
    )
    assert fallback["channel"] == "sms" and "no site_chat" in fallback["fallback"]


def test_outbox_rows_are_sent_through_the_same_senders(
    vendor: FakeVendor, clients: Clients
) -> None:
    vendor.on("POST", "/sendMessage", TELEGRAM_OK)
    vendor.on("POST", "/sms/send", SMS_OK)
    item = OutboxItem(1, "telegram", "42", {"text": "Заказ собран"}, "k-1", 1)
    with use_clients(clients):
        _SENDERS["telegram"](item)
        _SENDERS["sms"](OutboxItem(2, "sms", "+79131234567", {"text": "Код"}, None, 1))
    assert vendor.sent("POST", "/sendMessage")[0]["text"] == "Заказ собран"
    assert vendor.sent("POST", "/sms/send")[0]["msg"] == "Код"


def test_loyalty_credits_an_order_once_and_keeps_the_balance(
    clients: Clients, ledger: LoyaltyLedger
) -> None:
    first = loyalty.credit(
        ctx=context(clients), phone="+7 913 123-45-67", amount=224.7, order_id="O1"
    )
    again = loyalty.credit(ctx=context(clients), phone="79131234567", amount=224.7, order_id="O1")
    second = loyalty.credit(
        ctx=context(clients, "t2"), phone="79131234567", order_amount="1000", order_id="O2"
    )
    assert (first["credited"], first["balance"], first["new"]) == (224.7, 224.7, True)
    assert (again["balance"], again["new"]) == (224.7, False)
    assert (second["credited"], second["balance"]) == (30.0, 254.7)  # 3 % by default
    custom = loyalty.credit(
        ctx=context(clients), phone="79990000000", order_amount=200, percent=5, order_id="O3"
    )
    assert custom["credited"] == 10.0
    assert ledger.balance("79131234567") == Decimal("254.70")


def test_loyalty_needs_a_phone_and_an_amount(clients: Clients) -> None:
    with pytest.raises(HandlerRefusal):
        loyalty.credit(ctx=context(clients), phone="", amount=1, order_id="O1")
    with pytest.raises(HandlerRefusal):
        loyalty.credit(ctx=context(clients), phone="79131234567", order_id="O1")
