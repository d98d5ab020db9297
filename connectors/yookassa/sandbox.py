"""YooKassa double: payments, receipts, refunds, and the notifications YooKassa sends back.

Vendor behaviour kept: Basic auth shopId:secretKey (401 `invalid_credentials`), every POST
needs an `Idempotence-Key`; the same key with the same body answers the same object, with
another body a 400. A payment starts `pending` with a `confirmation_url` pointing at the
double's checkout page (`GET /checkout/{id}`: buttons "Оплатить" / "Отменить", then a
redirect to `return_url`). Paying or cancelling — on that page or with
`POST /_control/payments/{id}/pay|cancel` — changes the payment and POSTs
`{"type": "notification", "event": "payment.succeeded"|..., "object": <payment>}` to the
webhook URL (`SandboxSettings.webhook_url` or `POST /_control/webhook`). Refunds post
`refund.succeeded`. A receipt is `pending` when created and `succeeded` once read again.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from connectors.sandbox_kit import (
    SandboxSettings,
    VendorError,
    VendorStyle,
    build_app,
    emit,
    iso_now,
    mount_url,
    new_uuid,
    require,
    webhook_url,
)
from connectors.sandbox_store import SandboxStore
from connectors.yookassa.config import SANDBOX_SECRET_KEY, SANDBOX_SHOP_ID

SYSTEM = "yookassa"
AMOUNT = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
COMMISSION = Decimal("0.035")


class YooKassaStyle(VendorStyle):
    """`{"type": "error", "id", "code", "description", "parameter"}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        codes = {401: "invalid_credentials", 404: "not_found", 429: "too_many_requests"}
        default = codes.get(status, "internal_server_error" if status >= 500 else "invalid_request")
        return {"type": "error", "id": new_uuid(), "code": code or default, "description": message}

    def missing(self, field: str) -> VendorError:
        return self.invalid(f"Missing required parameter {field}", field)

    def invalid(self, message: str, parameter: str) -> VendorError:
        body = self.body(400, message, "invalid_request") | {"parameter": parameter}
        return VendorError(JSONResponse(body, status_code=400))


STYLE = YooKassaStyle()


def _check_auth(request: Request) -> None:
    expected = base64.b64encode(f"{SANDBOX_SHOP_ID}:{SANDBOX_SECRET_KEY}".encode()).decode()
    if request.headers.get("authorization") != f"Basic {expected}":
        raise STYLE.fail(401, "Authentication by given credentials failed")


def _money(raw: Any, parameter: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not AMOUNT.match(str(raw.get("value", ""))):
        raise STYLE.invalid(f"Invalid {parameter}.value", f"{parameter}.value")
    if raw.get("currency") != "RUB" or Decimal(str(raw["value"])) <= 0:
        raise STYLE.invalid(f"Invalid {parameter}", parameter)
    return {"value": f"{Decimal(str(raw['value'])):.2f}", "currency": raw["currency"]}


def _check_receipt(receipt: Any) -> None:
    require(STYLE, receipt, "customer", "items")
    customer = receipt["customer"]
    if not isinstance(customer, dict) or not (customer.get("email") or customer.get("phone")):
        raise STYLE.invalid("Receipt customer needs email or phone", "receipt.customer")
    for item in receipt["items"]:
        require(STYLE, item, "description", "quantity", "amount", "vat_code")
        _money(item["amount"], "receipt.items.amount")


class Shop:
    """The double's operations on one store, at the URL it is mounted at."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings, root: str) -> None:
        self.store = store
        self.settings = settings
        self.root = root

    def idempotent(
        self,
        kind: str,
        key: str | None,
        body: dict[str, Any],
        make: Callable[[str], dict[str, Any]],
        after: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Create once per Idempotence-Key; the same key with another body is a 400.

        `make` validates and builds the object (a rejected request marks nothing, as at
        YooKassa); `after` runs the side effects once, for the request that created it.
        """
        if not key:
            raise STYLE.invalid("Idempotence-Key header is required", "Idempotence-Key")
        mark_id = f"{kind}:{key}"
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        mark = self.store.get(SYSTEM, "idempotence", mark_id)
        if mark is None:
            object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{SYSTEM}:{mark_id}"))
            obj = make(object_id)
            mark, created = self.store.add_once(
                SYSTEM, "idempotence", mark_id, {"hash": digest, "id": object_id}
            )
            if created:
                self.store.add(SYSTEM, kind, object_id, obj)
                if after is not None:
                    after(obj)
                return obj
        if mark["hash"] != digest:
            raise STYLE.invalid("Idempotence key duplicated with other parameters", "body")
        return self.load(kind, mark["id"])

    def load(self, kind: str, object_id: str) -> dict[str, Any]:
        obj = self.store.get(SYSTEM, kind, object_id)
        if obj is None:
            raise STYLE.fail(404, f"{kind.capitalize()} {object_id} not found")
        return obj

    def new_payment(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        payment: dict[str, Any] = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": _money(body["amount"], "amount"),
            "recipient": {"account_id": SANDBOX_SHOP_ID, "gateway_id": "100700"},
            "created_at": iso_now(),
            "description": body.get("description", ""),
            "metadata": body.get("metadata") or {},
            "refundable": False,
            "test": True,
        }
        confirmation = body.get("confirmation")
        if confirmation:
            payment["confirmation"] = {
                "type": "redirect",
                "return_url": confirmation["return_url"],
                "confirmation_url": f"{self.root}/checkout/{payment_id}",
            }
        return payment

    def settle(self, payment_id: str, outcome: str) -> dict[str, Any]:
        """The customer paid (or gave up): update the payment and notify the shop."""
        payment = self.load("payment", payment_id)
        if payment["status"] != "pending":
            raise STYLE.fail(400, f"Payment {payment_id} is already {payment['status']}")
        if outcome == "pay":
            _mark_paid(payment, capture=self.store.get(SYSTEM, "capture", payment_id) is None)
        else:
            payment["status"] = "canceled"
            payment["cancellation_details"] = {"party": "yoo_money", "reason": "canceled_by_user"}
        self.store.put(SYSTEM, "payment", payment_id, payment)
        self.notify(f"payment.{payment['status']}", payment)
        return payment

    def notify(self, event: str, obj: dict[str, Any]) -> dict[str, Any] | None:
        url = webhook_url(SYSTEM, self.store, self.settings)
        if not url:
            return None
        payload = {"type": "notification", "event": event, "object": obj}
        return emit(
            system=SYSTEM, store=self.store, settings=self.settings, url=url, payload=payload
        )


def _mark_paid(payment: dict[str, Any], *, capture: bool) -> None:
    value = Decimal(payment["amount"]["value"])
    payment.update(
        status="succeeded" if capture else "waiting_for_capture",
        paid=True,
        refundable=capture,
        payment_method={
            "type": "bank_card",
            "id": payment["id"],
            "saved": False,
            "title": "Bank card *4444",
            "card": {
                "first6": "555555",
                "last4": "4444",
                "expiry_month": "12",
                "expiry_year": "2030",
                "card_type": "MasterCard",
            },
        },
        income_amount={"value": f"{value * (1 - COMMISSION):.2f}", "currency": "RUB"},
        authorization_details={"rrn": "603668680243", "auth_code": "000000"},
    )
    if capture:
        payment["captured_at"] = iso_now()
        payment["refunded_amount"] = {"value": "0.00", "currency": "RUB"}


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The YooKassa double, to be mounted at /sandbox/yookassa."""
    settings = settings or SandboxSettings()
    vendor = APIRouter(prefix="/v3", dependencies=[Depends(_check_auth)])
    control = APIRouter()
    public = APIRouter()

    def shop_for(request: Request) -> Shop:
        return Shop(store, settings, mount_url(request))

    @vendor.post("/payments")
    def create_payment(
        body: dict[str, Any] = Body(...),
        idempotence_key: str | None = Header(default=None),
        shop: Shop = Depends(shop_for),
    ) -> dict[str, Any]:
        require(STYLE, body, "amount")
        _money(body["amount"], "amount")
        confirmation = body.get("confirmation")
        if confirmation is not None:
            require(STYLE, confirmation, "type", "return_url")
            if confirmation["type"] != "redirect":
                raise STYLE.invalid("Only redirect confirmation is simulated", "confirmation.type")
        if body.get("receipt") is not None:
            _check_receipt(body["receipt"])

        def after(payment: dict[str, Any]) -> None:
            if body.get("capture") is False:  # not part of YooKassa's payment object
                store.put(SYSTEM, "capture", payment["id"], {"manual": True})

        return shop.idempotent(
            "payment", idempotence_key, body, lambda pid: shop.new_payment(pid, body), after
        )

    @vendor.get("/payments/{payment_id}")
    def get_payment(payment_id: str, shop: Shop = Depends(shop_for)) -> dict[str, Any]:
        return shop.load("payment", payment_id)

    @vendor.post("/refunds")
    def create_refund(
        body: dict[str, Any] = Body(...),
        idempotence_key: str | None = Header(default=None),
        shop: Shop = Depends(shop_for),
    ) -> dict[str, Any]:
        require(STYLE, body, "payment_id", "amount")
        amount = _money(body["amount"], "amount")
        payment = shop.load("payment", str(body["payment_id"]))
        refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0"))
        left = Decimal(payment["amount"]["value"]) - refunded

        def make(refund_id: str) -> dict[str, Any]:
            if payment["status"] != "succeeded" or Decimal(amount["value"]) > left:
                raise STYLE.invalid("Refund amount exceeds what is left to refund", "amount.value")
            return {
                "id": refund_id,
                "payment_id": payment["id"],
                "status": "succeeded",
                "created_at": iso_now(),
                "amount": amount,
                "description": body.get("description", ""),
            }

        def after(refund: dict[str, Any]) -> None:
            total = refunded + Decimal(amount["value"])
            payment["refunded_amount"] = {"value": f"{total:.2f}", "currency": "RUB"}
            payment["refundable"] = total < Decimal(payment["amount"]["value"])
            store.put(SYSTEM, "payment", payment["id"], payment)
            shop.notify("refund.succeeded", refund)

        return shop.idempotent("refund", idempotence_key, body, make, after)

    @vendor.get("/refunds/{refund_id}")
    def get_refund(refund_id: str, shop: Shop = Depends(shop_for)) -> dict[str, Any]:
        return shop.load("refund", refund_id)

    @vendor.post("/receipts")
    def create_receipt(
        body: dict[str, Any] = Body(...),
        idempotence_key: str | None = Header(default=None),
        shop: Shop = Depends(shop_for),
    ) -> dict[str, Any]:
        require(STYLE, body, "type", "customer", "items", "settlements")
        _check_receipt(body)
        if body.get("payment_id"):
            shop.load("payment", str(body["payment_id"]))

        def make(receipt_id: str) -> dict[str, Any]:
            fields = ("type", "payment_id", "refund_id", "items", "settlements")
            return {"id": receipt_id, "status": "pending"} | {
                key: body[key] for key in fields if key in body
            }

        return shop.idempotent("receipt", idempotence_key, body, make)

    @vendor.get("/receipts/{receipt_id}")
    def get_receipt(receipt_id: str, shop: Shop = Depends(shop_for)) -> dict[str, Any]:
        receipt = shop.load("receipt", receipt_id)
        if receipt["status"] == "pending":  # the fiscal registrar answered meanwhile
            receipt.update(
                status="succeeded",
                fiscal_document_number="3986",
                fiscal_storage_number="9288000100115786",
                fiscal_attribute="2617603921",
                registered_at=iso_now(),
            )
            store.put(SYSTEM, "receipt", receipt_id, receipt)
        return receipt

    @control.post("/payments/{payment_id}/{outcome}")
    def control_settle(payment_id: str, outcome: str, shop: Shop = Depends(shop_for)) -> Any:
        if outcome not in {"pay", "cancel"}:
            raise STYLE.fail(404, f"unknown action {outcome!r}: pay or cancel")
        payment = shop.settle(payment_id, outcome)
        deliveries = store.records(SYSTEM, "delivery")
        return {"payment": payment, "delivery": deliveries[-1] if deliveries else None}

    @public.get("/checkout/{payment_id}", response_class=HTMLResponse)
    def checkout(payment_id: str, shop: Shop = Depends(shop_for)) -> str:
        payment = shop.load("payment", payment_id)
        amount = html.escape(f"{payment['amount']['value']} {payment['amount']['currency']}")
        title = html.escape(payment.get("description") or payment_id)
        if payment["status"] != "pending":
            return f"<h1>{title}</h1><p>Платёж: {html.escape(payment['status'])}</p>"
        return (
            f"<!doctype html><html lang=ru><meta charset=utf-8><title>Оплата</title>"
            f"<h1>{title}</h1><p>К оплате: {amount}</p>"
            f"<form method=post action='{payment_id}/pay'><button>Оплатить</button></form>"
            f"<form method=post action='{payment_id}/cancel'><button>Отменить</button></form>"
        )

    @public.post("/checkout/{payment_id}/{outcome}")
    def checkout_settle(payment_id: str, outcome: str, shop: Shop = Depends(shop_for)) -> Any:
        if outcome not in {"pay", "cancel"}:
            raise STYLE.fail(404, f"unknown action {outcome!r}")
        payment = shop.settle(payment_id, outcome)
        target = payment.get("confirmation", {}).get("return_url") or shop.root
        return RedirectResponse(target, status_code=303)

    return build_app(
        system=SYSTEM,
        store=store,
        style=STYLE,
        settings=settings,
        vendor=vendor,
        control=control,
        public=public,
    )
