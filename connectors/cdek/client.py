"""CDEK client: OAuth client_credentials, orders (created asynchronously), tariff, webhooks.

CDEK accepts an order (202, request state ACCEPTED) and registers it later: success is the
request state SUCCESSFUL with a `cdek_number`, failure is INVALID with errors. CDEK has no
documented idempotency key, so `create_order` first looks the order up by our number
(`im_number`) and re-creates only when there is none (or only a rejected one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import OAuthClient, PermanentConnectorError
from connectors.cdek.config import CdekConfig


class CdekClient(OAuthClient[CdekConfig]):
    """One CDEK account over one httpx.Client; the token is fetched and renewed by the auth."""

    system = "cdek"

    def __init__(
        self,
        config: CdekConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config or CdekConfig(), transport=transport)
        self._sleep = sleep

    def calculate_tariff(
        self,
        *,
        tariff_code: int,
        from_location: Mapping[str, Any],
        to_location: Mapping[str, Any],
        packages: list[Mapping[str, Any]],
    ) -> dict[str, Any]:
        """Price and delivery period: `{delivery_sum, total_sum, period_min, period_max, …}`."""
        body = {
            "tariff_code": tariff_code,
            "from_location": dict(from_location),
            "to_location": dict(to_location),
            "packages": [dict(package) for package in packages],
        }
        return self._request("POST", "/calculator/tariff", json=body)

    def create_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Register `order` (CDEK's own shape, `number` required) and wait until CDEK did.

        Returns `{entity: {uuid, cdek_number, statuses, …}, requests: […]}`. Raises Permanent
        when CDEK rejects the order, Transient when it is still processing after polling.
        """
        number = order.get("number")
        if not number:
            raise PermanentConnectorError(self.system, "order needs our 'number' (im_number)")
        existing = self.find_order(str(number))
        if existing is None or _request_state(existing) == "INVALID":
            accepted = self._request("POST", "/orders", json=dict(order))
            self._raise_if_invalid(accepted)
            uuid = accepted["entity"]["uuid"]
        else:
            uuid = existing["entity"]["uuid"]
        return self.wait_until_registered(uuid)

    def wait_until_registered(self, uuid: str) -> dict[str, Any]:
        """Poll `GET /orders/{uuid}` until CDEK registered the order (or rejected it)."""
        for attempt in range(self.config.max_polls):
            if attempt:
                self._sleep(self.config.poll_interval)
            order = self.get_order(uuid)
            self._raise_if_invalid(order)
            if _request_state(order) == "SUCCESSFUL" and order["entity"].get("cdek_number"):
                return order
        raise self._transient(f"order {uuid} is still being processed by CDEK")

    def get_order(self, uuid: str) -> dict[str, Any]:
        """An order with its statuses and the state of its requests."""
        return self._request("GET", f"/orders/{uuid}")

    def find_order(self, number: str) -> dict[str, Any] | None:
        """The order we created under our `number`, or None when CDEK has none."""
        try:
            return self._request("GET", "/orders", params={"im_number": number})
        except PermanentConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise

    def subscribe_webhook(self, url: str, *, event_type: str = "ORDER_STATUS") -> dict[str, Any]:
        """Ask CDEK to POST `event_type` events to `url` (CDEK keeps one per type and URL)."""
        return self._request("POST", "/webhooks", json={"type": event_type, "url": url})

    def _raise_if_invalid(self, answer: Mapping[str, Any]) -> None:
        if _request_state(answer) == "INVALID":
            message, code = self._describe_error(answer)
            raise self._permanent(
                f"order rejected: {message}", vendor_message=message, vendor_code=code
            )

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        errors = _errors(body)
        if errors:
            message = "; ".join(str(err.get("message") or err.get("code")) for err in errors)
            return message, errors[0].get("code")
        return super()._describe_error(body)


def _errors(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    errors = list(body.get("errors") or [])
    for request in body.get("requests") or []:
        errors.extend(request.get("errors") or [])
    return errors


def _request_state(order: Mapping[str, Any]) -> str | None:
    creates = [r for r in order.get("requests") or [] if r.get("type") == "CREATE"]
    return creates[-1].get("state") if creates else None
