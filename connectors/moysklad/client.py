"""MoySklad client: orders with reserve, states, demand (write-off), paymentin, stock, webhooks.

Money is in kopecks everywhere, as MoySklad has it. Every create carries a `syncId`: MoySklad
answers a re-sent create with the entity it already has, so a retried job creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, Field

from connectors.base import BaseClient, parse_retry_after
from connectors.moysklad.config import MoySkladConfig

JSON = "application/json"
RATE_LIMIT_CODES = frozenset({"1049", "1073"})  # too many requests / parallel requests


class OrderLine(BaseModel):
    """One order position: `price` in kopecks, `discount` in percent."""

    product_id: str
    quantity: float = Field(gt=0)
    price: int = Field(ge=0)
    discount: float = 0
    vat: int = 0
    assortment_type: str = "product"


class MoySkladClient(BaseClient[MoySkladConfig]):
    """One MoySklad account over one httpx.Client."""

    system = "moysklad"

    def __init__(
        self, config: MoySkladConfig | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        config = config or MoySkladConfig()
        headers = {
            "Authorization": f"Bearer {config.token.get_secret_value()}",
            # MoySklad answers 415 unless Accept-Encoding is exactly gzip.
            "Accept-Encoding": "gzip",
        }
        if config.webhook_disable_prefix:
            headers["X-Lognex-WebHook-DisableByPrefix"] = config.webhook_disable_prefix
        super().__init__(config, transport=transport, headers=headers)
        self._states: dict[str, dict[str, Any]] | None = None

    # --- references ---------------------------------------------------------------------------

    def ref(self, entity: str, entity_id: str) -> dict[str, Any]:
        """`{"meta": {...}}` pointing at one entity of this account."""
        href = f"{self.config.base_url.rstrip('/')}/entity/{entity}/{entity_id}"
        return {"meta": {"href": href, "type": entity, "mediaType": JSON}}

    def order_ref(self, order_id: str) -> dict[str, Any]:
        """Reference to a customer order."""
        return self.ref("customerorder", order_id)

    # --- customer orders ----------------------------------------------------------------------

    def create_order(
        self,
        *,
        sync_id: str,
        lines: Sequence[OrderLine],
        agent_id: str | None = None,
        reserve: bool = True,
        name: str | None = None,
        description: str | None = None,
        state: str | None = None,
        shipment_address: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a customer order (positions reserved unless `reserve=False`); idempotent."""
        body: dict[str, Any] = {
            "syncId": sync_id,
            "organization": self.ref("organization", self.config.organization_id),
            "agent": self.ref("counterparty", agent_id or self.config.default_agent_id),
            "store": self.ref("store", self.config.store_id),
            "positions": [self._position(line, reserve) for line in lines],
        }
        optional = {"name": name, "description": description}
        body.update({key: value for key, value in optional.items() if value is not None})
        if shipment_address:
            body["shipmentAddressFull"] = shipment_address
        if state:
            body["state"] = {"meta": self.state(state)["meta"]}
        return self._request("POST", "/entity/customerorder", json=body)

    def get_order(self, order_id: str, *, with_positions: bool = False) -> dict[str, Any]:
        """One customer order (positions expanded when asked)."""
        params = {"expand": "positions"} if with_positions else None
        return self._request("GET", f"/entity/customerorder/{order_id}", params=params)

    def order_states(self) -> dict[str, dict[str, Any]]:
        """The account's order states by name (cached: they change in the admin UI only)."""
        if self._states is None:
            metadata = self._request("GET", "/entity/customerorder/metadata")
            self._states = {state["name"]: state for state in metadata.get("states", [])}
        return self._states

    def state(self, name: str) -> dict[str, Any]:
        """The state called `name`; an unknown name is a permanent (configuration) error."""
        states = self.order_states()
        if name not in states:
            self._states = None  # maybe renamed since we cached: read again next time
            raise self._permanent(f"order state {name!r} not found (known: {', '.join(states)})")
        return states[name]

    def set_order_state(self, order_id: str, state: str) -> dict[str, Any]:
        """Move an order to the state called `state`."""
        body = {"state": {"meta": self.state(state)["meta"]}}
        return self._request("PUT", f"/entity/customerorder/{order_id}", json=body)

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Set the cancel state and release every reservation of the order."""
        rows = self._request("GET", f"/entity/customerorder/{order_id}/positions")["rows"]
        positions = [
            {
                key: row[key]
                for key in ("quantity", "price", "discount", "vat", "assortment")
                if key in row
            }
            | {"reserve": 0}
            for row in rows
        ]
        body = {
            "state": {"meta": self.state(self.config.cancel_state)["meta"]},
            "positions": positions,  # a PUT with positions replaces the whole collection
        }
        return self._request("PUT", f"/entity/customerorder/{order_id}", json=body)

    # --- shipment (write-off) and payment -----------------------------------------------------

    def create_demand(self, order_id: str, *, sync_id: str) -> dict[str, Any]:
        """Ship the whole order: a demand prefilled from it, linked to it; idempotent."""
        template = self._request(
            "PUT", "/entity/demand/new", json={"customerOrder": self.order_ref(order_id)}
        )
        template.setdefault("store", self.ref("store", self.config.store_id))
        template["positions"] = _rows(template.get("positions"))
        template["syncId"] = sync_id
        return self._request("POST", "/entity/demand", json=template)

    def create_payment_in(
        self,
        order_id: str,
        *,
        sync_id: str,
        amount: int | None = None,
        purpose: str | None = None,
    ) -> dict[str, Any]:
        """Register an incoming payment linked to the order (default: its unpaid sum)."""
        template = self._request(
            "PUT", "/entity/paymentin/new", json={"operations": [self.order_ref(order_id)]}
        )
        if amount is not None:
            template["sum"] = amount
            for operation in template.get("operations", []):
                operation["linkedSum"] = amount
        if purpose:
            template["paymentPurpose"] = purpose
        template["syncId"] = sync_id
        return self._request("POST", "/entity/paymentin", json=template)

    # --- customers, stock, webhooks -----------------------------------------------------------

    def create_counterparty(
        self, *, sync_id: str, name: str, phone: str | None = None, email: str | None = None
    ) -> dict[str, Any]:
        """Create a customer (counterparty); idempotent by `sync_id`."""
        body = {"syncId": sync_id, "name": name, "companyType": "individual"}
        body.update(
            {key: value for key, value in {"phone": phone, "email": email}.items() if value}
        )
        return self._request("POST", "/entity/counterparty", json=body)

    def stock(self, *, store_id: str | None = None) -> list[dict[str, Any]]:
        """Stock report rows (`stock`, `reserve`, `quantity` = free) for one store."""
        store_href = self.ref("store", store_id or self.config.store_id)["meta"]["href"]
        report = self._request("GET", "/report/stock/all", params={"filter": f"store={store_href}"})
        return list(report.get("rows", []))

    def webhooks(self) -> list[dict[str, Any]]:
        """Webhooks registered on the account."""
        return list(self._request("GET", "/entity/webhook").get("rows", []))

    def register_webhook(
        self, *, url: str, action: str, entity_type: str, diff_type: str | None = None
    ) -> dict[str, Any]:
        """Subscribe `url` to `action` on `entity_type`; an existing identical one is reused."""
        for hook in self.webhooks():
            if (hook.get("url"), hook.get("action"), hook.get("entityType")) == (
                url,
                action,
                entity_type,
            ):
                return hook
        body = {"url": url, "action": action, "entityType": entity_type}
        if diff_type:
            body["diffType"] = diff_type
        return self._request("POST", "/entity/webhook", json=body)

    # --- vendor specifics ---------------------------------------------------------------------

    def _position(self, line: OrderLine, reserve: bool) -> dict[str, Any]:
        position: dict[str, Any] = {
            "quantity": line.quantity,
            "price": line.price,
            "discount": line.discount,
            "vat": line.vat,
            "assortment": self.ref(line.assortment_type, line.product_id),
        }
        if reserve:
            position["reserve"] = line.quantity
        return position

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors:
            return super()._describe_error(body)
        messages = [str(err.get("error") or err.get("error_message") or err) for err in errors]
        code = errors[0].get("code")
        return "; ".join(messages), None if code is None else str(code)

    def _retry_after(self, response: httpx.Response, body: Any) -> float | None:
        seconds = parse_retry_after(response.headers.get("X-Lognex-Retry-After"))
        if seconds is not None:
            return seconds / 1000.0  # MoySklad counts milliseconds
        return parse_retry_after(response.headers.get("Retry-After"))

    def _is_transient_status(self, status: int, code: str | None) -> bool:
        return super()._is_transient_status(status, code) or code in RATE_LIMIT_CODES


def _rows(positions: Any) -> list[dict[str, Any]]:
    """Template positions come as `{meta, rows}`; a POST wants the bare list."""
    if isinstance(positions, dict):
        return list(positions.get("rows", []))
    return list(positions or [])
