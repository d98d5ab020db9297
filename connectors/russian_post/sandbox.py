"""Russian Post "Отправка" double: tariff, backlog create / get / search / delete.

Vendor behaviour kept: both headers `Authorization: AccessToken …` and
`X-User-Authorization: Basic …` are required (401 otherwise); `PUT /1.0/user/backlog` takes a
JSON array and answers per position: `{"result-ids": [...], "errors": [{"error-codes":
[{"code", "description"}], "position": i}]}` with HTTP 200 even when some positions failed.
The error body of other failures (`{"code", "desc"}`) is [unconfirmed] in the reference.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request

from connectors.russian_post.config import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_LOGIN,
    SANDBOX_PASSWORD,
)
from connectors.sandbox_kit import (
    SandboxSettings,
    VendorError,
    VendorStyle,
    build_app,
    require,
)
from connectors.sandbox_store import SandboxStore

SYSTEM = "russian_post"
MAIL_TYPES = {"POSTAL_PARCEL", "ONLINE_PARCEL", "ONLINE_COURIER", "EMS"}
MAIL_CATEGORIES = {"ORDINARY", "WITH_DECLARED_VALUE"}
REQUIRED = {
    "order-num": "EMPTY_ORDER_NUM",
    "mass": "EMPTY_MASS",
    "index-to": "EMPTY_INDEX_TO",
    "mail-type": "EMPTY_MAIL_TYPE",
    "mail-category": "EMPTY_MAIL_CATEGORY",
    "address-type-to": "EMPTY_ADDRESS_TYPE_TO",
    "given-name": "EMPTY_GIVEN_NAME",
    "surname": "EMPTY_SURNAME",
    "region-to": "EMPTY_REGION_TO",
    "place-to": "EMPTY_PLACE_TO",
}
FIRST_ID = 900_000_000


class RussianPostStyle(VendorStyle):
    """`{"code", "desc", "sub-code"}` [unconfirmed]."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"code": code or str(status), "desc": message}

    def missing(self, field: str) -> VendorError:
        return self.fail(400, f"Не заполнено поле {field}", REQUIRED.get(field, "EMPTY_FIELD"))


STYLE = RussianPostStyle()


def _check_auth(request: Request) -> None:
    user = base64.b64encode(f"{SANDBOX_LOGIN}:{SANDBOX_PASSWORD}".encode()).decode()
    if (
        request.headers.get("authorization") != f"AccessToken {SANDBOX_ACCESS_TOKEN}"
        or request.headers.get("x-user-authorization") != f"Basic {user}"
    ):
        raise STYLE.fail(401, "Unauthorized", "UNAUTHORIZED")


def _order_errors(order: Any) -> list[dict[str, str]]:
    if not isinstance(order, dict):
        return [{"code": "ILLEGAL_ORDER", "description": "Заказ должен быть объектом"}]
    errors = [
        {"code": code, "description": f"Не заполнено поле {field}"}
        for field, code in REQUIRED.items()
        if order.get(field) in (None, "")
    ]
    if order.get("mail-type") and order["mail-type"] not in MAIL_TYPES:
        errors.append({"code": "ILLEGAL_MAIL_TYPE", "description": "Неверный вид отправления"})
    if order.get("mail-category") and order["mail-category"] not in MAIL_CATEGORIES:
        errors.append({"code": "ILLEGAL_MAIL_CATEGORY", "description": "Неверная категория"})
    if not str(order.get("index-to", "")).isdigit() or len(str(order.get("index-to", ""))) != 6:
        errors.append({"code": "ILLEGAL_INDEX_TO", "description": "Неверный индекс получателя"})
    return errors


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The Russian Post double, to be mounted at /sandbox/russian_post."""
    settings = settings or SandboxSettings()
    vendor = APIRouter(prefix="/1.0", dependencies=[Depends(_check_auth)])

    def load(shipment_id: str) -> dict[str, Any]:
        shipment = store.get(SYSTEM, "shipment", shipment_id)
        if shipment is None:
            raise STYLE.fail(404, f"Заказ {shipment_id} не найден", "NOT_FOUND")
        return shipment

    @vendor.put("/user/backlog")
    def create(orders: list[Any] = Body(...)) -> dict[str, Any]:
        result_ids: list[int] = []
        errors: list[dict[str, Any]] = []
        for position, order in enumerate(orders):
            problems = _order_errors(order)
            if problems:
                errors.append({"error-codes": problems, "position": position})
                continue
            shipment_id = FIRST_ID + len(store.records(SYSTEM, "shipment")) + 1
            store.add(SYSTEM, "shipment", str(shipment_id), dict(order) | {"id": shipment_id})
            result_ids.append(shipment_id)
        return {"result-ids": result_ids, "errors": errors}

    @vendor.get("/backlog/search")
    def search(query: str) -> list[dict[str, Any]]:
        return store.find(SYSTEM, "shipment", **{"order-num": query})

    @vendor.get("/backlog/{shipment_id}")
    def get(shipment_id: str) -> dict[str, Any]:
        return load(shipment_id)

    @vendor.delete("/backlog/{shipment_id}")
    def remove(shipment_id: str) -> dict[str, Any]:
        load(shipment_id)
        store.clear(SYSTEM, "shipment", shipment_id)
        return {"result-ids": [int(shipment_id)]}

    @vendor.post("/tariff")
    def tariff(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "index-from", "index-to", "mass", "mail-category", "mail-type")
        if body["mail-type"] not in MAIL_TYPES:
            raise STYLE.fail(400, "Неверный вид отправления", "ILLEGAL_MAIL_TYPE")
        mass = int(body["mass"])
        rate = 18_000 + 1_500 * ((mass + 499) // 500)  # kopecks, grows per started 500 g
        if body["mail-type"] == "EMS":
            rate *= 2
        vat = rate * 20 // 120
        return {
            "total-rate": rate - vat,
            "total-vat": vat,
            "ground-rate": {"rate": rate - vat, "vat": vat},
            "delivery-time": {"min-days": 2, "max-days": 6},
        }

    return build_app(system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor)
