"""Telegram client on the wire: token in the path, keyboards, retry_after from the body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.telegram import InlineButton, TelegramClient, TelegramConfig, telegram_bots
from tests.unit.connectors.contract import Contract, FakeVendor, contract_test

CONFIG = TelegramConfig(base_url="https://api.telegram.org")
TOKEN = "700000001:sandbox-managers-bot-token"
MESSAGE = {"message_id": 5, "chat": {"id": 42}, "date": 1, "text": "Новый заказ"}
TAKE = [[InlineButton(text="Принять заказ", callback_data="take:Q-7")]]


def make(transport: httpx.BaseTransport) -> TelegramClient:
    return TelegramClient(CONFIG, "managers", transport=transport)


def telegram_error(message: str) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 400,
        "description": message,
        "parameters": {"retry_after": 7},
    }


test_contract = contract_test(
    Contract(
        name="send_message",
        make=make,
        call=lambda c: c.send_message(42, "Новый заказ", buttons=TAKE),
        ok={"ok": True, "result": MESSAGE},
        error=telegram_error,
        check=lambda message: message["message_id"] == 5,
        rate_limit_headers={},
    ),
    Contract(
        name="answer_callback_query",
        make=make,
        call=lambda c: c.answer_callback_query("q-1", text="Заказ ваш"),
        ok={"ok": True, "result": True},
        error=telegram_error,
        check=lambda answered: answered is True,
        rate_limit_headers={},
    ),
)


def test_send_message_posts_json_with_the_keyboard_to_the_bot_path() -> None:
    vendor = FakeVendor({"POST /sendMessage": {"ok": True, "result": MESSAGE}})
    with make(vendor.transport()) as client:
        client.send_message(42, "Новый заказ", buttons=TAKE, parse_mode="HTML")
    assert vendor.requests[0].url.path == f"/bot{TOKEN}/sendMessage"
    assert vendor.body(0) == {
        "chat_id": 42,
        "text": "Новый заказ",
        "parse_mode": "HTML",
        "reply_markup": {
            "inline_keyboard": [[{"text": "Принять заказ", "callback_data": "take:Q-7"}]]
        },
    }


def test_edit_without_buttons_removes_them_and_webhook_sends_the_secret() -> None:
    vendor = FakeVendor(
        {
            "POST /editMessageText": {"ok": True, "result": MESSAGE},
            "POST /setWebhook": {"ok": True, "result": True},
        }
    )
    with make(vendor.transport()) as client:
        client.edit_message_text(42, 5, "Заказ взят")
        assert client.set_webhook("https://shop.example/hooks/telegram/managers")
    assert vendor.body(0) == {"chat_id": 42, "message_id": 5, "text": "Заказ взят"}
    assert vendor.body(1) == {
        "url": "https://shop.example/hooks/telegram/managers",
        "secret_token": "sandbox-managers-secret",
        "allowed_updates": ["message", "callback_query"],
    }


def test_callback_data_over_64_bytes_is_refused_before_sending() -> None:
    vendor = FakeVendor({})
    too_long = [[InlineButton(text="x", callback_data="я" * 33)]]
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError):
        client.send_message(42, "x", buttons=too_long)
    assert vendor.requests == []


def test_200_without_the_envelope_is_transient() -> None:
    vendor = FakeVendor({"POST /getMe": {"id": 1}})
    with make(vendor.transport()) as client, pytest.raises(TransientConnectorError):
        client.get_me()


def test_one_client_per_bot_and_unknown_bot() -> None:
    with telegram_bots(CONFIG) as bots:
        assert bots.names() == ["managers", "customers"]
        assert bots.get("customers").bot == "customers"
    with pytest.raises(PermanentConnectorError, match="no bot 'sales'"):
        TelegramClient(CONFIG, "sales")
