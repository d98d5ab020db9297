"""Telegram client against its double over real HTTP: the blind order offer, updates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.base import ClientPool, PermanentConnectorError
from connectors.telegram import (
    InlineButton,
    TelegramBotConfig,
    TelegramClient,
    TelegramConfig,
    telegram_bots,
)
from tests.integration.connectors.conftest import Sandbox

MANAGERS_BOT = "700000001"
ANNA, BORIS = 1001, 1002
TAKE = [[InlineButton(text="Принять заказ", callback_data="take:Q-7")]]


@pytest.fixture
def bots(sandbox: Sandbox) -> Iterator[ClientPool[TelegramClient]]:
    with telegram_bots(sandbox.config(TelegramConfig())) as bots:
        yield bots


def test_first_click_takes_the_order_and_every_offer_is_edited(
    bots: ClientPool[TelegramClient], sandbox: Sandbox
) -> None:
    managers = bots.get("managers")
    assert managers.set_webhook(sandbox.receiver("tg-managers"))
    assert managers.get_webhook_info()["url"] == sandbox.receiver("tg-managers")
    offers = {
        chat: managers.send_message(chat, "Новый заказ Q-7, 10:02", buttons=TAKE)
        for chat in (ANNA, BORIS)
    }
    assert offers[ANNA]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Принять заказ"
    pressed = sandbox.control(
        "telegram",
        "press",
        {
            "bot": MANAGERS_BOT,
            "chat_id": ANNA,
            "message_id": offers[ANNA]["message_id"],
            "data": "take:Q-7",
            "from": {"first_name": "Анна"},
        },
    )
    [delivered] = sandbox.wait_received("tg-managers")
    assert delivered.headers["x-telegram-bot-api-secret-token"] == "sandbox-managers-secret"
    query = delivered.json()["callback_query"]
    assert delivered.json()["update_id"] == pressed["update"]["update_id"]
    assert (query["data"], query["from"]["id"]) == ("take:Q-7", ANNA)
    assert managers.answer_callback_query(query["id"], text="Заказ ваш")
    with pytest.raises(PermanentConnectorError, match="query is too old"):
        managers.answer_callback_query(query["id"])
    managers.edit_message_text(ANNA, offers[ANNA]["message_id"], "Q-7: 2 шт, 11 980 ₽")
    managers.edit_message_text(BORIS, offers[BORIS]["message_id"], "Заказ Q-7 взят")
    messages = sandbox.records("telegram", "message")
    assert [m["reply_markup"] for m in messages] == [None, None]
    assert messages[1]["edits"][0]["text"] == "Новый заказ Q-7, 10:02"


def test_customer_message_reaches_the_customers_bot(
    bots: ClientPool[TelegramClient], sandbox: Sandbox
) -> None:
    bots.get("customers").set_webhook(sandbox.receiver("tg-customers"), allowed_updates=["message"])
    sandbox.control("telegram", "message", {"bot": "700000002", "chat_id": 555, "text": "оператор"})
    [update] = sandbox.wait_received("tg-customers")
    assert update.json()["message"]["text"] == "оператор"
    assert update.headers["x-telegram-bot-api-secret-token"] == "sandbox-customers-secret"


def test_vendor_refusals_keep_telegrams_words(
    bots: ClientPool[TelegramClient], sandbox: Sandbox
) -> None:
    managers = bots.get("managers")
    sent = managers.send_message(ANNA, "Заказ")
    with pytest.raises(PermanentConnectorError, match="message is not modified"):
        managers.edit_message_text(ANNA, sent["message_id"], "Заказ")
    with pytest.raises(PermanentConnectorError, match="message to edit not found"):
        managers.edit_message_text(ANNA, 999, "x")
    with pytest.raises(PermanentConnectorError, match="chat not found"):
        managers.send_message("not-a-chat", "x")
    sandbox.control("telegram", "block", {"bot": MANAGERS_BOT, "chat_id": BORIS})
    with pytest.raises(PermanentConnectorError) as blocked:
        managers.send_message(BORIS, "x")
    assert blocked.value.status_code == 403
    assert blocked.value.vendor_message == "Forbidden: bot was blocked by the user"
    fake = TelegramBotConfig(token=SecretStr("1:nope"), webhook_secret=SecretStr("s"))
    config = sandbox.config(TelegramConfig(bots={"fake": fake}))
    with TelegramClient(config, "fake") as stranger, pytest.raises(PermanentConnectorError) as err:
        stranger.get_me()
    assert (err.value.status_code, err.value.vendor_message) == (401, "Unauthorized")
