"""CDEK double: OAuth tokens, asynchronous order registration, statuses, tariff, webhooks.

Vendor behaviour kept: `POST /oauth/token` (form, client_credentials) gives a bearer token
valid `expires_in` seconds; a call without a valid token is a 401. `POST /orders` answers 202
with the request ACCEPTED; the order is registered while it is being read: the first
`GET /orders/{uuid}` still shows ACCEPTED, the next one SUCCESSFUL with a `cdek_number`
(and status CREATED) — or INVALID with errors when the recipient has no phone or the number
was already used. `GET /orders?im_number=` finds an order by the shop's number (404 if none).
Every status change is POSTed to the ORDER_STATUS webhooks.
Control: `POST /_control/orders/{uuid}/status {"code": "DELIVERED", "city": "Москва"}`
(the courier moved the parcel), `POST /_control/expire_tokens` (CDEK revoked our token).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Request

from connectors.cdek.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from connectors.sandbox_kit import (
    SandboxSettings,
    VendorError,
    VendorStyle,
    add_token_endpoint,
    bearer_valid,
    build_app,
    emit,
    iso_now,
    new_uuid,
    require,
)
from connectors.sandbox_store import SandboxStore

SYSTEM = "cdek"
TOKEN_SECONDS = 3600
STATUS_CODES = {
    "ACCEPTED": ("Принят", "0"),
    "CREATED": ("Создан", "1"),
    "RECEIVED_AT_SHIPMENT_WAREHOUSE": ("Принят на склад отправителя", "3"),
    "DELIVERED": ("Вручен", "4"),
    "NOT_DELIVERED": ("Не вручен", "5"),
    "TAKEN_BY_COURIER": ("Выдан на доставку", "11"),
    "ACCEPTED_AT_PICK_UP_POINT": ("Принят в пункт выдачи", "12"),
}


class CdekStyle(VendorStyle):
    """`{"requests": [{"request_uuid", "type", "state": "INVALID", "errors": [...]}]}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        error = {"code": code or f"v2_http_{status}", "message": message}
        request = {
            "request_uuid": new_uuid(),
            "type": "CREATE",
            "date_time": iso_now(),
            "state": "INVALID",
            "errors": [error],
        }
        return {"requests": [request]}

    def missing(self, field: str) -> VendorError:
        return self.fail(400, f"Field '{field}' is empty", "v2_field_is_empty")


STYLE = CdekStyle()


class Courier:
    """The double's state operations, bound to one store."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings

    def check_token(self, request: Request) -> None:
        if not bearer_valid(SYSTEM, self.store, request):
            raise STYLE.fail(401, "Token is invalid or expired", "v2_token_expired")

    def load(self, uuid: str) -> dict[str, Any]:
        order = self.store.get(SYSTEM, "order", uuid)
        if order is None:
            raise STYLE.fail(404, f"Entity is not found by uuid {uuid}", "v2_entity_not_found")
        return order

    def register(self, order: dict[str, Any]) -> dict[str, Any] | None:
        """Finish the asynchronous registration; the new status to announce, if any."""
        request = order["requests"][0]
        if request["state"] != "ACCEPTED":
            return None
        if not order["read_once"]:
            order["read_once"] = True  # CDEK is still working on it at the first look
            return None
        errors = self.business_errors(order)
        if errors:
            request.update(state="INVALID", errors=errors)
            return None
        request["state"] = "SUCCESSFUL"
        registered = [
            o for o in self.store.records(SYSTEM, "order") if o["entity"].get("cdek_number")
        ]
        order["entity"]["cdek_number"] = str(1_106_000_000 + len(registered) + 1)
        return self.add_status(order, "CREATED", order["entity"]["from_city"])

    def business_errors(self, order: dict[str, Any]) -> list[dict[str, str]]:
        entity = order["entity"]
        if not (entity.get("recipient") or {}).get("phones"):
            return [{"code": "v2_recipient_phones_empty", "message": "Recipient phones are empty"}]
        for other in self.store.records(SYSTEM, "order"):
            if (
                other["entity"]["uuid"] != entity["uuid"]
                and other["entity"].get("number") == entity.get("number")
                and other["requests"][0]["state"] == "SUCCESSFUL"
            ):
                return [
                    {
                        "code": "v2_order_number_exists",
                        "message": f"Order with number {entity['number']} already exists",
                    }
                ]
        return []

    def add_status(self, order: dict[str, Any], code: str, city: str) -> dict[str, Any]:
        name, _ = STATUS_CODES[code]
        status = {"code": code, "name": name, "date_time": iso_now(), "city": city}
        order["entity"]["statuses"].insert(0, status)  # CDEK lists the newest first
        return status

    def announce(self, order: dict[str, Any], status: dict[str, Any]) -> None:
        """POST an ORDER_STATUS event to every subscribed URL."""
        entity = order["entity"]
        payload = {
            "type": "ORDER_STATUS",
            "date_time": status["date_time"],
            "uuid": entity["uuid"],
            "attributes": {
                "is_return": False,
                "cdek_number": entity.get("cdek_number"),
                "number": entity.get("number"),
                "code": status["code"],
                "status_code": STATUS_CODES[status["code"]][1],
                "status_date_time": status["date_time"],
                "city_name": status["city"],
            },
        }
        for hook in self.store.records(SYSTEM, "webhook"):
            if hook["type"] == "ORDER_STATUS":
                emit(
                    system=SYSTEM,
                    store=self.store,
                    settings=self.settings,
                    url=hook["url"],
                    payload=payload,
                )

    def view(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"entity": order["entity"], "requests": order["requests"]}


def _city(location: Any) -> str:
    if isinstance(location, dict):
        return str(location.get("city") or location.get("address") or location.get("code") or "")
    return ""


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The CDEK double, to be mounted at /sandbox/cdek."""
    settings = settings or SandboxSettings()
    courier = Courier(store, settings)
    vendor = APIRouter(prefix="/v2")
    api = APIRouter(dependencies=[Depends(courier.check_token)])
    control = APIRouter()

    add_token_endpoint(
        vendor,
        "/oauth/token",
        system=SYSTEM,
        store=store,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        seconds=TOKEN_SECONDS,
    )

    @api.post("/orders", status_code=202)
    def create_order(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "tariff_code", "recipient", "packages")
        if not (body.get("to_location") or body.get("delivery_point")):
            raise STYLE.missing("to_location")
        uuid = new_uuid()
        entity = dict(body) | {
            "uuid": uuid,
            "statuses": [],
            "from_city": _city(body.get("from_location")) or "Москва",
        }
        order = {
            "entity": entity,
            "read_once": False,
            "requests": [
                {
                    "request_uuid": new_uuid(),
                    "type": "CREATE",
                    "date_time": iso_now(),
                    "state": "ACCEPTED",
                }
            ],
        }
        courier.add_status(order, "ACCEPTED", entity["from_city"])
        store.add(SYSTEM, "order", uuid, order)
        return {"entity": {"uuid": uuid}, "requests": order["requests"]}

    @api.get("/orders/{uuid}")
    def get_order(uuid: str, background: BackgroundTasks) -> dict[str, Any]:
        order = courier.load(uuid)
        status = courier.register(order)
        store.put(SYSTEM, "order", uuid, order)
        if status is not None:
            background.add_task(courier.announce, order, status)
        return courier.view(order)

    @api.get("/orders")
    def find_order(im_number: str = "", cdek_number: str = "") -> dict[str, Any]:
        for order in reversed(store.records(SYSTEM, "order")):
            entity = order["entity"]
            if (im_number and entity.get("number") == im_number) or (
                cdek_number and entity.get("cdek_number") == cdek_number
            ):
                return courier.view(order)
        raise STYLE.fail(
            404,
            f"Entity is not found by im_number {im_number or cdek_number}",
            "v2_entity_not_found_im_number",
        )

    @api.post("/calculator/tariff")
    def tariff(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "tariff_code", "from_location", "to_location", "packages")
        grams = sum(int(package.get("weight", 0)) for package in body["packages"])
        if grams <= 0:
            raise STYLE.fail(400, "Package weight must be positive", "v2_weight_invalid")
        delivery = 250.0 + 60.0 * math.ceil(grams / 1000)
        same_city = _city(body["from_location"]) == _city(body["to_location"])
        period = (1, 2) if same_city else (3, 5)
        return {
            "delivery_sum": delivery,
            "period_min": period[0],
            "period_max": period[1],
            "calendar_min": period[0],
            "calendar_max": period[1] + 1,
            "weight_calc": grams,
            "services": [],
            "total_sum": delivery,
            "currency": "RUB",
        }

    @api.post("/webhooks")
    def subscribe(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "type", "url")
        key = f"{body['type']}:{body['url']}"
        hook = store.get(SYSTEM, "webhook", key) or {"uuid": new_uuid()}
        hook |= {"type": body["type"], "url": body["url"]}
        store.put(SYSTEM, "webhook", key, hook)
        request = {
            "request_uuid": new_uuid(),
            "type": "CREATE",
            "date_time": iso_now(),
            "state": "SUCCESSFUL",
        }
        return {"entity": {"uuid": hook["uuid"]}, "requests": [request]}

    @api.get("/webhooks")
    def webhooks() -> list[dict[str, Any]]:
        return store.records(SYSTEM, "webhook")

    @control.post("/orders/{uuid}/status")
    def move(uuid: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        order = courier.load(uuid)
        if body.get("code") not in STATUS_CODES:
            raise STYLE.fail(400, f"code must be one of {', '.join(STATUS_CODES)}")
        status = courier.add_status(order, body["code"], body.get("city") or "Москва")
        store.put(SYSTEM, "order", uuid, order)
        courier.announce(order, status)
        return courier.view(order)

    @control.post("/expire_tokens")
    def expire_tokens() -> dict[str, Any]:
        expired = len(store.records(SYSTEM, "token"))
        store.clear(SYSTEM, "token")
        return {"expired": expired}

    vendor.include_router(api)
    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
