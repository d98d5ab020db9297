"""zzap.ru double: `GetSellerOrdersV3` for several accounts, orders placed through control.

Vendor behaviour kept: `POST|GET /webservice/datasharing.asmx/GetSellerOrdersV3` with
`login, password, api_key, row_count, date_from, date_to` (form or query) answers HTTP 200
`{"error": "", "row_count", "table": [...]}`; wrong credentials or a row_count above 10000
come back in `error`. Dates are `dd.mm.yyyy HH:MM:SS` ([unconfirmed] in the reference).
Control: `POST /_control/orders {"login": "auto3-main", "orders": [{"partnumber",
"class_man", "qty", "price", "comment"}]}` — buyers order on zzap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request

from connectors.sandbox_kit import SandboxSettings, VendorStyle, build_app, require
from connectors.sandbox_store import SandboxStore
from connectors.zzap.config import SANDBOX_ACCOUNTS

SYSTEM = "zzap"
DATE_FORMAT = "%d.%m.%Y %H:%M:%S"
MAX_ROWS = 10_000
CREDENTIALS = {login: (password, key) for login, password, key in SANDBOX_ACCOUNTS.values()}


class ZzapStyle(VendorStyle):
    """`{"error": "<text>", "row_count": 0, "table": []}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"error": message, "row_count": 0, "table": []}


STYLE = ZzapStyle()


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({key: str(value) for key, value in (await request.form()).items()})
    return params


def _refusal(message: str) -> dict[str, Any]:
    return {"error": message, "row_count": 0, "table": []}


def _date(text: str) -> datetime | None:
    return datetime.strptime(text, DATE_FORMAT) if text else None


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The zzap double, to be mounted at /sandbox/zzap."""
    settings = settings or SandboxSettings()
    vendor = APIRouter(prefix="/webservice/datasharing.asmx")
    control = APIRouter()

    @vendor.api_route("/GetSellerOrdersV3", methods=["GET", "POST"])
    def seller_orders(p: dict[str, str] = Depends(_params)) -> dict[str, Any]:
        login = p.get("login", "")
        if CREDENTIALS.get(login) != (p.get("password"), p.get("api_key")):
            return _refusal("Неверный логин, пароль или api_key")
        try:
            rows = int(p.get("row_count") or 100)
            since, until = _date(p.get("date_from", "")), _date(p.get("date_to", ""))
        except ValueError:
            return _refusal("Неверный формат параметра row_count, date_from или date_to")
        if not 1 <= rows <= MAX_ROWS:
            return _refusal(f"row_count должен быть от 1 до {MAX_ROWS}")
        table = [
            {key: value for key, value in order.items() if key != "login"}
            for order in store.records(SYSTEM, "order")
            if order["login"] == login
            and (since is None or datetime.strptime(order["create_date"], DATE_FORMAT) >= since)
            and (until is None or datetime.strptime(order["create_date"], DATE_FORMAT) <= until)
        ][-rows:]
        return {"error": "", "row_count": len(table), "table": table}

    @control.post("/orders")
    def place(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "login", "orders")
        if body["login"] not in CREDENTIALS:
            raise STYLE.fail(400, f"unknown login {body['login']!r}")
        placed = []
        for item in body["orders"]:
            require(STYLE, item, "partnumber", "class_man")
            code = 7_000_000 + len(store.records(SYSTEM, "order")) + 1
            order = {
                "login": body["login"],
                "code_order": code,
                "create_date": item.get("create_date") or datetime.now().strftime(DATE_FORMAT),
                "class_man": item["class_man"],
                "partnumber": item["partnumber"],
                "class_cat": item.get("class_cat", ""),
                "qty_order": int(item.get("qty", 1)),
                "qty": int(item.get("qty", 1)),
                "price": float(item.get("price", 0)),
                "comment": item.get("comment", ""),
            }
            store.add(SYSTEM, "order", str(code), order)
            placed.append(order)
        return {"orders": placed}

    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
