"""SMS clients for SMS.ru and SMSC.ru behind one interface: send, status, balance.

Both report errors inside HTTP 200 answers; the clients read them and raise the error tree
(only "temporarily unavailable / too many requests" codes are transient; no money, a wrong
number or a forbidden text is permanent). Neither has an idempotency key: the outbox must
dedupe before calling `send` (SMSC's `id` lets you name the message, not dedupe it).
The SMSC JSON shapes (`fmt=3`) are [unconfirmed] in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx

from connectors.base import BaseClient
from connectors.sms.config import SmsConfig

# Delivery states, the same words for both providers.
QUEUED, SENT, DELIVERED, FAILED, UNKNOWN = "queued", "sent", "delivered", "failed", "unknown"
SMSRU_STATES = {
    100: QUEUED,
    101: SENT,
    102: SENT,
    103: DELIVERED,
    104: FAILED,
    105: FAILED,
    106: FAILED,
    107: FAILED,
    108: FAILED,
    110: DELIVERED,
    150: FAILED,
}
SMSC_STATES = {
    -1: QUEUED,
    0: SENT,
    1: DELIVERED,
    2: DELIVERED,
    3: FAILED,
    20: FAILED,
    22: FAILED,
    23: FAILED,
    24: FAILED,
    25: FAILED,
}
SMSRU_TRANSIENT = frozenset({220, 231})  # service unavailable; too many identical per minute
SMSC_TRANSIENT = frozenset({4, 9})  # IP blocked for a while; too many concurrent requests


@dataclass(frozen=True)
class SmsSent:
    """One accepted message."""

    sms_id: str
    phone: str


class SmsClient(Protocol):
    """What handlers use, whichever provider is configured."""

    def send(self, phone: str, text: str, *, message_id: str | None = None) -> SmsSent: ...

    def status(self, sms_id: str, phone: str) -> str: ...

    def balance(self) -> Decimal: ...

    def close(self) -> None: ...


def make_sms_client(
    config: SmsConfig | None = None, *, transport: httpx.BaseTransport | None = None
) -> SmsRuClient | SmscClient:
    """The client of the configured provider."""
    config = config or SmsConfig()
    if config.provider == "smsc":
        return SmscClient(config, transport=transport)
    return SmsRuClient(config, transport=transport)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


class SmsRuClient(BaseClient[SmsConfig]):
    """SMS.ru: `POST /sms/send`, `/sms/status`, `/my/balance` with `api_id` and `json=1`."""

    system = "sms"

    def __init__(
        self, config: SmsConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(config or SmsConfig(), transport=transport)

    def send(self, phone: str, text: str, *, message_id: str | None = None) -> SmsSent:
        """Send one SMS; a refused number raises Permanent with SMS.ru's reason."""
        number = _digits(phone)
        form = self._form(to=number, msg=text)
        if self.config.sender:
            form["from"] = self.config.sender
        if self.config.test:
            form["test"] = "1"
        answer = self._request("POST", "/sms/send", data=form)
        result = (answer.get("sms") or {}).get(number) or {}
        self._raise_for_item(result)
        return SmsSent(sms_id=str(result["sms_id"]), phone=number)

    def status(self, sms_id: str, phone: str) -> str:
        """Delivery state: queued, sent, delivered, failed or unknown."""
        answer = self._request("POST", "/sms/status", data=self._form(sms_id=sms_id))
        item = (answer.get("sms") or {}).get(sms_id) or {}
        return SMSRU_STATES.get(int(item.get("status_code", -1)), UNKNOWN)

    def balance(self) -> Decimal:
        """Money left on the account, in rubles."""
        return Decimal(str(self._request("POST", "/my/balance", data=self._form())["balance"]))

    def _form(self, **fields: str) -> dict[str, str]:
        return {"api_id": self.config.api_id.get_secret_value(), "json": "1", **fields}

    def _raise_for_item(self, item: dict[str, Any]) -> None:
        if item.get("status") != "OK":
            code = int(item.get("status_code") or 0)
            message = str(item.get("status_text") or "the number was refused")
            make = self._transient if code in SMSRU_TRANSIENT else self._permanent
            raise make(f"SMS refused: {message}", vendor_message=message, vendor_code=str(code))

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        if isinstance(body, dict) and body.get("status") == "ERROR":
            self._raise_for_item(body)

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and body.get("status_text"):
            return str(body["status_text"]), str(body.get("status_code"))
        return super()._describe_error(body)


class SmscClient(BaseClient[SmsConfig]):
    """SMSC.ru: `/sys/send.php`, `/sys/status.php`, `/sys/balance.php` with `fmt=3` (JSON)."""

    system = "sms"

    def __init__(
        self, config: SmsConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(config or SmsConfig(provider="smsc"), transport=transport)

    def send(self, phone: str, text: str, *, message_id: str | None = None) -> SmsSent:
        """Send one SMS; `message_id` names it (digits) for later status queries."""
        number = _digits(phone)
        form = self._form(phones=number, mes=text, charset="utf-8")
        if message_id:
            form["id"] = message_id
        if self.config.sender:
            form["sender"] = self.config.sender
        answer = self._request("POST", "/sys/send.php", data=form)
        return SmsSent(sms_id=str(answer["id"]), phone=number)

    def status(self, sms_id: str, phone: str) -> str:
        """Delivery state: queued, sent, delivered, failed or unknown."""
        answer = self._request(
            "POST", "/sys/status.php", data=self._form(phone=_digits(phone), id=sms_id)
        )
        return SMSC_STATES.get(int(answer.get("status", -3)), UNKNOWN)

    def balance(self) -> Decimal:
        """Money left on the account, in rubles."""
        return Decimal(str(self._request("POST", "/sys/balance.php", data=self._form())["balance"]))

    def _form(self, **fields: str) -> dict[str, str]:
        secret = self.config.password.get_secret_value()
        return {"login": self.config.login, "psw": secret, "fmt": "3", **fields}

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        if isinstance(body, dict) and body.get("error"):
            message, code = self._describe_error(body)
            make = self._transient if int(code or 0) in SMSC_TRANSIENT else self._permanent
            raise make(f"SMS refused: {message}", vendor_message=message, vendor_code=code)

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"]), str(body.get("error_code", ""))
        return super()._describe_error(body)
