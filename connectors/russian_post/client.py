"""Russian Post "Отправка" client: tariff, shipment create / get / delete.

The backlog has no idempotency key: `create_shipment` first searches the backlog for our
order number and re-creates only when nothing is there. Creating answers per array position
(`result-ids` / `errors`), so one rejected order is a Permanent error with its error codes.
Batching, barcode assignment and tracking are not covered (unconfirmed in the reference).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import BaseClient
from connectors.russian_post.config import RussianPostConfig


class RussianPostClient(BaseClient[RussianPostConfig]):
    """One Отправка account (AccessToken + X-User-Authorization) over one httpx.Client."""

    system = "russian_post"

    def __init__(
        self,
        config: RussianPostConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        config = config or RussianPostConfig()
        user = f"{config.login}:{config.password.get_secret_value()}".encode()
        headers = {
            "Authorization": f"AccessToken {config.access_token.get_secret_value()}",
            "X-User-Authorization": f"Basic {base64.b64encode(user).decode()}",
            "Content-Type": "application/json;charset=UTF-8",
            "Accept": "application/json;charset=UTF-8",
        }
        super().__init__(config, transport=transport, headers=headers)

    def calculate_tariff(
        self,
        *,
        index_to: str,
        mass: int,
        mail_type: str = "POSTAL_PARCEL",
        mail_category: str = "ORDINARY",
        declared_value: int | None = None,
    ) -> dict[str, Any]:
        """Price in kopecks: `{total-rate, total-vat, delivery-time, …}`; `mass` in grams."""
        body: dict[str, Any] = {
            "index-from": self.config.index_from,
            "index-to": index_to,
            "mail-category": mail_category,
            "mail-type": mail_type,
            "mass": mass,
        }
        if declared_value is not None:
            body["declared-value"] = declared_value
        return self._request("POST", "/1.0/tariff", json=body)

    def create_shipment(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Put one order (Отправка's shape, `order-num` required) into the backlog, once."""
        found = self.find_shipments(str(order["order-num"]))
        if found:
            return found[0]
        answer = self._request("PUT", "/1.0/user/backlog", json=[dict(order)])
        if answer.get("errors"):
            message, code = self._describe_error(answer)
            raise self._permanent(
                f"shipment rejected: {message}", vendor_message=message, vendor_code=code
            )
        return self.get_shipment(answer["result-ids"][0])

    def find_shipments(self, order_num: str) -> list[dict[str, Any]]:
        """Backlog orders whose number is `order_num`."""
        found = self._request("GET", "/1.0/backlog/search", params={"query": order_num})
        return [item for item in found or [] if str(item.get("order-num")) == order_num]

    def get_shipment(self, shipment_id: int | str) -> dict[str, Any]:
        """One order of the backlog."""
        return self._request("GET", f"/1.0/backlog/{shipment_id}")

    def delete_shipment(self, shipment_id: int | str) -> dict[str, Any]:
        """Remove an order from the backlog (before it is batched)."""
        return self._request("DELETE", f"/1.0/backlog/{shipment_id}")

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        codes = _error_codes(body)
        if codes:
            texts = [str(c.get("description") or c.get("details") or c.get("code")) for c in codes]
            return "; ".join(texts), codes[0].get("code")
        if isinstance(body, dict) and body.get("desc"):
            return str(body["desc"]), body.get("code")
        return super()._describe_error(body)


def _error_codes(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    codes = list(body.get("error-codes") or [])
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            codes.extend(error.get("error-codes") or [])
    return codes
