"""Avito Messenger client: OAuth client_credentials, send a text into a chat, subscribe.

Avito delivers our own sent messages to the webhook too; `is_own_echo` tells them apart
(author_id == our user_id). The error shape `{"error": {"code", "message"}}` and the
subscribe endpoint are [unconfirmed] in the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.avito.config import AvitoConfig
from connectors.base import OAuthClient


def is_own_echo(event: Mapping[str, Any], user_id: str) -> bool:
    """Whether a webhook event is our own message coming back (ignore those)."""
    value = (event.get("payload") or {}).get("value") or {}
    return str(value.get("author_id")) == str(user_id)


class AvitoClient(OAuthClient[AvitoConfig]):
    """One Avito account over one httpx.Client; the token is fetched and renewed by the auth."""

    system = "avito"
    token_path = "/token"

    def __init__(
        self, config: AvitoConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(config or AvitoConfig(), transport=transport)

    def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        """Reply in a chat: `{id, content: {text}, created, direction: "out", type}`."""
        path = f"/messenger/v1/accounts/{self.config.user_id}/chats/{chat_id}/messages"
        return self._request("POST", path, json={"message": {"text": text}, "type": "text"})

    def subscribe_webhook(self, url: str) -> dict[str, Any]:
        """Ask Avito to POST messenger events to `url`."""
        return self._request("POST", self.config.webhook_subscribe_path, json={"url": url})

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            return str(error.get("message")), None if code is None else str(code)
        if isinstance(body, dict) and body.get("error_description"):
            return str(body["error_description"]), str(body.get("error"))
        return super()._describe_error(body)
