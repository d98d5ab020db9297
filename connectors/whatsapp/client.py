"""WhatsApp Cloud API client: `POST /{phone-number-id}/messages` with a Bearer token.

Free-form texts reach a customer only within 24 h of their last message; outside it use a
template. The API still accepts such a text (200) and reports the failure later in a status
webhook (code 131047), so handlers must watch statuses. Graph API reports throttling as
error codes, sometimes with HTTP 400: those codes are transient here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import httpx

from connectors.base import BaseClient
from connectors.whatsapp.config import WhatsAppConfig

# Graph API codes meaning "slow down / try later" (rate limits, temporary unavailability).
TRANSIENT_CODES = frozenset(
    {"1", "2", "4", "17", "32", "613", "80007", "130429", "131000", "131048", "131056"}
)
MAX_BUTTONS = 3


def sign_body(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with a webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the HMAC-SHA256 of the raw `body` (constant-time compare)."""
    return bool(header) and hmac.compare_digest(sign_body(app_secret, body), header or "")


class WhatsAppClient(BaseClient[WhatsAppConfig]):
    """One business phone number over one httpx.Client."""

    system = "whatsapp"

    def __init__(
        self, config: WhatsAppConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        config = config or WhatsAppConfig()
        headers = {"Authorization": f"Bearer {config.access_token.get_secret_value()}"}
        super().__init__(config, transport=transport, headers=headers)

    def send_text(self, to: str, body: str, *, preview_url: bool = False) -> dict[str, Any]:
        """A text (inside the 24 h window); `messages[0].id` is the wamid."""
        return self._message(to, "text", {"body": body, "preview_url": preview_url})

    def send_template(
        self,
        to: str,
        name: str,
        *,
        language: str = "ru",
        components: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """An approved template (works outside the 24 h window)."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = list(components)
        return self._message(to, "template", template)

    def send_buttons(
        self, to: str, body: str, buttons: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        """A text with up to three reply buttons given as (id, title)."""
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            raise self._permanent(f"1 to {MAX_BUTTONS} reply buttons, got {len(buttons)}")
        interactive = {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": button_id, "title": title}}
                    for button_id, title in buttons
                ]
            },
        }
        return self._message(to, "interactive", interactive)

    def _message(self, to: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "".join(ch for ch in to if ch.isdigit()),
            "type": kind,
            kind: content,
        }
        return self._request("POST", f"/{self.config.phone_number_id}/messages", json=payload)

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("type"))
            details = (error.get("error_data") or {}).get("details")
            if details:
                message = f"{message}: {details}"
            return message, None if error.get("code") is None else str(error["code"])
        return super()._describe_error(body)

    def _is_transient_status(self, status: int, code: str | None) -> bool:
        return super()._is_transient_status(status, code) or code in TRANSIENT_CODES
