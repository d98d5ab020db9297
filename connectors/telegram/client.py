"""Telegram Bot API client: one httpx.Client per bot, `POST /bot<token>/<method>` with JSON.

Answers are `{"ok": true, "result": …}`; errors `{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}` — a 429 carries its wait in the body, not in a header.
The token is part of every URL: never log request URLs of this client (httpx logs them at
INFO level; keep the "httpx" logger at WARNING).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from connectors.base import BaseClient, ClientPool
from connectors.telegram.config import TelegramConfig

ALLOWED_UPDATES = ("message", "callback_query")


class InlineButton(BaseModel):
    """A button under a message; `callback_data` comes back in the callback query."""

    model_config = ConfigDict(frozen=True)

    text: str
    callback_data: str


Keyboard = Sequence[Sequence[InlineButton]]


class TelegramClient(BaseClient[TelegramConfig]):
    """One bot (by its name in `TelegramConfig.bots`) over one httpx.Client."""

    system = "telegram"

    def __init__(
        self,
        config: TelegramConfig | None = None,
        bot: str = "managers",
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        config = config or TelegramConfig()
        if bot not in config.bots:
            raise self._permanent(f"no bot {bot!r} configured (known: {', '.join(config.bots)})")
        self.bot = bot
        self._bot = config.bots[bot]
        super().__init__(config, transport=transport)

    def get_me(self) -> dict[str, Any]:
        """The bot's own user (id, username)."""
        return self._call("getMe", {})

    def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Keyboard | None = None,
        parse_mode: str | None = None,
    ) -> dict[str, Any]:
        """Send `text` (with an inline keyboard); returns the Message (`message_id`)."""
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if buttons is not None:
            payload["reply_markup"] = self._keyboard(buttons)
        return self._call("sendMessage", payload)

    def edit_message_text(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        *,
        buttons: Keyboard | None = None,
    ) -> dict[str, Any]:
        """Replace a message's text; its buttons are replaced by `buttons` (none: removed)."""
        payload: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
        if buttons:
            payload["reply_markup"] = self._keyboard(buttons)
        return self._call("editMessageText", payload)

    def answer_callback_query(
        self, callback_query_id: str, *, text: str | None = None, show_alert: bool = False
    ) -> bool:
        """Stop the button's spinner (must be called for every callback query)."""
        payload: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            payload["text"] = text
            payload["show_alert"] = show_alert
        return bool(self._call("answerCallbackQuery", payload))

    def set_webhook(self, url: str, *, allowed_updates: Sequence[str] = ALLOWED_UPDATES) -> bool:
        """Deliver updates to `url` with this bot's secret token header."""
        payload = {
            "url": url,
            "secret_token": self._bot.webhook_secret.get_secret_value(),
            "allowed_updates": list(allowed_updates),
        }
        return bool(self._call("setWebhook", payload))

    def get_webhook_info(self) -> dict[str, Any]:
        """Where updates go and how many wait."""
        return self._call("getWebhookInfo", {})

    # --- vendor specifics ---------------------------------------------------------------------

    def _call(self, method: str, payload: dict[str, Any]) -> Any:
        token = self._bot.token.get_secret_value()
        return self._request("POST", f"/bot{token}/{method}", json=payload)["result"]

    def _keyboard(self, rows: Keyboard) -> dict[str, Any]:
        for row in rows:
            for button in row:
                if not 1 <= len(button.callback_data.encode()) <= 64:
                    raise self._permanent(
                        f"callback_data must be 1-64 bytes, got {button.callback_data!r}"
                    )
        return {"inline_keyboard": [[button.model_dump() for button in row] for row in rows]}

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        if not isinstance(body, dict) or "result" not in body or body.get("ok") is not True:
            # Not Telegram's envelope (a proxy page?): transient, like malformed JSON.
            raise self._transient(
                f"unexpected answer without ok/result: {str(body)[:200]}",
                status_code=response.status_code,
            )

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and "description" in body:
            return str(body["description"]), str(body.get("error_code", ""))
        return super()._describe_error(body)

    def _retry_after(self, response: httpx.Response, body: Any) -> float | None:
        parameters = body.get("parameters") if isinstance(body, dict) else None
        if isinstance(parameters, dict) and parameters.get("retry_after") is not None:
            return float(parameters["retry_after"])
        return super()._retry_after(response, body)


def telegram_bots(
    config: TelegramConfig | None = None, *, transport: httpx.BaseTransport | None = None
) -> ClientPool[TelegramClient]:
    """One client per configured bot, by bot name."""
    config = config or TelegramConfig()
    return ClientPool(
        TelegramClient.system,
        config.bots,
        lambda bot: TelegramClient(config, bot, transport=transport),
    )
