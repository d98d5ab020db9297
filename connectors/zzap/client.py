"""zzap.ru client: `GetSellerOrdersV3` per account, `{"error": "" (OK), "row_count", "table"}`.

zzap's web service is ASMX: depending on how it is called it answers plain JSON, JSON wrapped
as `{"d": "<json>"}`, or XML `<string>{json}</string>`; all three are read. A non-empty
`error` is Permanent (wrong credentials, bad parameters) unless it speaks of a limit or of
trying later, which is Transient. `SetOrderStatus` is left out: its parameters are
[unconfirmed] in the reference.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import httpx

from connectors.base import BaseClient, ClientPool
from connectors.zzap.config import ZzapConfig

TRANSIENT_WORDS = ("лимит", "limit", "позже", "later", "временно")


class ZzapClient(BaseClient[ZzapConfig]):
    """One zzap account (by its name in `ZzapConfig.accounts`) over one httpx.Client."""

    system = "zzap"

    def __init__(
        self,
        config: ZzapConfig | None = None,
        account: str = "auto3-main",
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        config = config or ZzapConfig()
        if account not in config.accounts:
            raise self._permanent(f"no account {account!r} configured")
        self.account = account
        self._credentials = config.accounts[account]
        super().__init__(config, transport=transport)

    def seller_orders(
        self, *, date_from: datetime | None = None, date_to: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The account's orders (newest rows as zzap gives them), optionally in a date range."""
        form = {
            "login": self._credentials.login,
            "password": self._credentials.password.get_secret_value(),
            "api_key": self._credentials.api_key.get_secret_value(),
            "row_count": str(self.config.row_count),
        }
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            form[name] = value.strftime(self.config.date_format) if value else ""
        answer = self._request("POST", "/GetSellerOrdersV3", data=form)
        return [row | {"account": self.account} for row in answer.get("table") or []]

    def _decode(self, response: httpx.Response) -> Any:
        text = response.text.strip()
        if text.startswith("<"):
            with contextlib.suppress(ElementTree.ParseError):  # not XML: malformed JSON below
                text = ElementTree.fromstring(text).text or ""
        try:
            body = json.loads(text)
            if isinstance(body, dict) and isinstance(body.get("d"), str):
                body = json.loads(body["d"])
        except ValueError as exc:
            raise self._transient(
                f"malformed JSON in a {response.status_code} answer: {text[:200]}",
                status_code=response.status_code,
            ) from exc
        return body

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        if not isinstance(body, dict) or "error" not in body:
            raise self._transient(f"unexpected answer without 'error': {str(body)[:200]}")
        message = str(body.get("error") or "")
        if message:
            transient = any(word in message.lower() for word in TRANSIENT_WORDS)
            make = self._transient if transient else self._permanent
            raise make(f"zzap refused: {message}", vendor_message=message)

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"]), None
        return super()._describe_error(body)


def zzap_accounts(
    config: ZzapConfig | None = None, *, transport: httpx.BaseTransport | None = None
) -> ClientPool[ZzapClient]:
    """One client per configured zzap account, by account name."""
    config = config or ZzapConfig()
    return ClientPool(
        ZzapClient.system,
        config.accounts,
        lambda account: ZzapClient(config, account, transport=transport),
    )
