"""YooKassa client: payments with a redirect link, receipts, refunds.

Every POST carries an `Idempotence-Key` (valid 24 h at YooKassa): derive it from the job's
idempotency key, and a retried job gets the same payment instead of a second one. YooKassa
answers 500 or 202 while the outcome is unknown; both are transient here, to be retried with
the same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from connectors.base import BaseClient
from connectors.yookassa.config import YooKassaConfig

Amount = Decimal | int | str


def money(value: Amount, currency: str = "RUB") -> dict[str, str]:
    """YooKassa's amount object: the value as a string with two decimals."""
    exact = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {"value": f"{exact:.2f}", "currency": currency}


class YooKassaClient(BaseClient[YooKassaConfig]):
    """One YooKassa shop over one httpx.Client (Basic auth shopId:secretKey)."""

    system = "yookassa"

    def __init__(
        self, config: YooKassaConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        config = config or YooKassaConfig()
        auth = httpx.BasicAuth(config.shop_id, config.secret_key.get_secret_value())
        super().__init__(config, transport=transport, auth=auth)

    def create_payment(
        self,
        *,
        idempotence_key: str,
        amount: Amount,
        description: str,
        metadata: Mapping[str, str] | None = None,
        return_url: str | None = None,
        receipt: Mapping[str, Any] | None = None,
        capture: bool = True,
    ) -> dict[str, Any]:
        """A pending payment; send `confirmation.confirmation_url` to the customer."""
        body: dict[str, Any] = {
            "amount": money(amount, self.config.currency),
            "capture": capture,
            "confirmation": {
                "type": "redirect",
                "return_url": return_url or self.config.return_url,
            },
            "description": description[:128],  # YooKassa's limit
            "metadata": dict(metadata or {}),
        }
        if receipt is not None:
            body["receipt"] = dict(receipt)
        return self._post("/payments", idempotence_key, body)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """The payment as YooKassa has it now (re-fetch before trusting a notification)."""
        return self._request("GET", f"/payments/{payment_id}")

    def create_receipt(
        self,
        *,
        idempotence_key: str,
        payment_id: str,
        customer: Mapping[str, str],
        items: Sequence[Mapping[str, Any]],
        amount: Amount,
        receipt_type: str = "payment",
    ) -> dict[str, Any]:
        """A fiscal receipt for a paid payment (54-FZ), settled cashless for `amount`."""
        body = {
            "type": receipt_type,
            "payment_id": payment_id,
            "customer": dict(customer),
            "items": [dict(item) for item in items],
            "send": True,
            "settlements": [{"type": "cashless", "amount": money(amount, self.config.currency)}],
        }
        return self._post("/receipts", idempotence_key, body)

    def get_receipt(self, receipt_id: str) -> dict[str, Any]:
        """A receipt and its registration status."""
        return self._request("GET", f"/receipts/{receipt_id}")

    def create_refund(
        self,
        *,
        idempotence_key: str,
        payment_id: str,
        amount: Amount,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Refund all or part of a succeeded payment."""
        body: dict[str, Any] = {
            "payment_id": payment_id,
            "amount": money(amount, self.config.currency),
        }
        if description:
            body["description"] = description
        return self._post("/refunds", idempotence_key, body)

    def get_refund(self, refund_id: str) -> dict[str, Any]:
        """A refund and its status."""
        return self._request("GET", f"/refunds/{refund_id}")

    # --- vendor specifics ---------------------------------------------------------------------

    def _post(self, path: str, idempotence_key: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Idempotence-Key": idempotence_key}
        return self._request("POST", path, json=body, headers=headers)

    def _is_success(self, response: httpx.Response) -> bool:
        # 202: "accepted, result unknown yet" — YooKassa asks to repeat with the same key.
        return super()._is_success(response) and response.status_code != 202

    def _is_transient_status(self, status: int, code: str | None) -> bool:
        return status == 202 or super()._is_transient_status(status, code)

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and body.get("type") == "error":
            message = body.get("description") or body.get("code")
            if body.get("parameter"):
                message = f"{message} (parameter: {body['parameter']})"
            return message, body.get("code")
        return super()._describe_error(body)
