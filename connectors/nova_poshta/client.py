"""Nova Poshta client: one JSON endpoint, `{apiKey, modelName, calledMethod, methodProperties}`.

Nova Poshta reports errors as HTTP 200 with `success: false`; the client always checks it and
raises Permanent with the vendor's texts and error codes. Waybills have no idempotency key:
`create_waybill` writes our order number into `InfoRegClientBarcodes` and first looks for a
waybill of that day carrying it (`InternetDocument.getDocumentList`; that this list returns
`InfoRegClientBarcodes` is [unconfirmed] against the vendor's documentation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from connectors.base import BaseClient
from connectors.nova_poshta.config import NovaPoshtaConfig


class NovaPoshtaClient(BaseClient[NovaPoshtaConfig]):
    """One Nova Poshta account over one httpx.Client."""

    system = "nova_poshta"

    def __init__(
        self,
        config: NovaPoshtaConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(config or NovaPoshtaConfig(), transport=transport)

    def call(
        self, model: str, method: str, properties: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One API method; returns `data` of a successful envelope."""
        body = {
            "apiKey": self.config.api_key.get_secret_value(),
            "modelName": model,
            "calledMethod": method,
            "methodProperties": dict(properties or {}),
        }
        return list(self._request("POST", "", json=body).get("data") or [])

    def get_warehouses(
        self,
        *,
        city_ref: str | None = None,
        city_name: str | None = None,
        page: int = 1,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Branches and parcel lockers (with `WarehouseStatus`) of a city, one page."""
        properties: dict[str, Any] = {
            "Page": str(page),
            "Limit": str(limit),
            "Language": self.config.language,
        }
        if city_ref:
            properties["CityRef"] = city_ref
        if city_name:
            properties["CityName"] = city_name
        return self.call("Address", "getWarehouses", properties)

    def save_recipient(
        self, *, city_ref: str, first_name: str, last_name: str, phone: str, middle_name: str = ""
    ) -> dict[str, Any]:
        """A private-person recipient: `Ref` and `ContactPerson.data[0].Ref` for the waybill."""
        properties = {
            "CounterpartyProperty": "Recipient",
            "CounterpartyType": "PrivatePerson",
            "CityRef": city_ref,
            "FirstName": first_name,
            "LastName": last_name,
            "MiddleName": middle_name,
            "Phone": phone,
        }
        return self.call("Counterparty", "save", properties)[0]

    def create_waybill(self, order_number: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Create the waybill (TTN) for our order once: `{Ref, IntDocNumber, CostOnSite, …}`.

        `properties` are InternetDocument.save's recipient, cargo and payment fields; the
        sender fields come from the config unless given.
        """
        document = self._sender() | dict(properties) | {"InfoRegClientBarcodes": order_number}
        existing = self.find_waybill(order_number, str(document.get("DateTime", "")))
        if existing is not None:
            return existing
        return self.call("InternetDocument", "save", document)[0]

    def find_waybill(self, order_number: str, date: str) -> dict[str, Any] | None:
        """Our waybill of `date` (dd.mm.yyyy) carrying `order_number`, if any."""
        if not date:
            return None
        properties = {"DateTimeFrom": date, "DateTimeTo": date, "GetFullList": "1"}
        for document in self.call("InternetDocument", "getDocumentList", properties):
            if document.get("InfoRegClientBarcodes") == order_number:
                return document
        return None

    def track(self, documents: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Statuses of waybills given as (number, recipient or sender phone)."""
        items = [{"DocumentNumber": number, "Phone": phone} for number, phone in documents]
        return self.call("TrackingDocument", "getStatusDocuments", {"Documents": items})

    def _sender(self) -> dict[str, Any]:
        return {
            "CitySender": self.config.sender_city_ref,
            "Sender": self.config.sender_ref,
            "SenderAddress": self.config.sender_address_ref,
            "ContactSender": self.config.sender_contact_ref,
            "SendersPhone": self.config.sender_phone,
        }

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        if not isinstance(body, dict) or body.get("success") is not False:
            return
        message, code = self._describe_error(body)
        raise self._permanent(
            f"request refused: {message}",
            status_code=response.status_code,
            vendor_message=message,
            vendor_code=code,
        )

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        if isinstance(body, dict) and body.get("errors"):
            errors = body["errors"]
            texts = errors.values() if isinstance(errors, dict) else errors
            codes = body.get("errorCodes") or [None]
            return "; ".join(str(text) for text in texts), codes[0]
        return super()._describe_error(body)
