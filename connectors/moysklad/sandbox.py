"""MoySklad double: the JSON API 1.2 shapes for orders, demands, paymentin, stock and webhooks.

What it holds: a fixed organization, store, retail customer and a small product catalog
(extendable with `POST /_control/products`), plus every order, demand, payment, counterparty
and webhook created through the API. Stock in the report = initial stock minus shipped
(demands); reserve = reserved, not yet shipped quantities of open orders.

Vendor behaviour kept: Bearer or Basic auth (401 code 1056), `Accept-Encoding: gzip` or 415
with an empty body, `syncId` makes a create idempotent, a PUT with `positions` replaces them,
webhooks are delivered as `POST <url>?requestId=<uuid>` carrying only the entity href, and
never to URLs starting with the writer's `X-Lognex-WebHook-DisableByPrefix`.
Control: `POST /_control/orders/{id}/state {"state": name}` (a warehouse worker changes the
state in the MoySklad UI → UPDATE webhook), `POST /_control/products {"products": [...]}`.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response

from connectors.moysklad.config import (
    ORGANIZATION_ID,
    RETAIL_AGENT_ID,
    SANDBOX_LOGIN,
    SANDBOX_PASSWORD,
    SANDBOX_TOKEN,
    STORE_ID,
)
from connectors.sandbox_kit import (
    SandboxSettings,
    VendorError,
    VendorStyle,
    build_app,
    emit,
    mount_url,
    new_uuid,
    require,
    utc_now,
)
from connectors.sandbox_store import SandboxStore

SYSTEM = "moysklad"
PREFIX = "/api/remap/1.2"
JSON = "application/json"
ACCOUNT_ID = "0b4f3b26-0000-4000-8000-0000000000aa"
MAX_POSITIONS = 1000
STATES = [
    ("0b4f3b26-0000-4000-8000-000000000101", "Новый", "Regular"),
    ("0b4f3b26-0000-4000-8000-000000000102", "Подтвержден", "Regular"),
    ("0b4f3b26-0000-4000-8000-000000000103", "Собран", "Regular"),
    ("0b4f3b26-0000-4000-8000-000000000104", "Отгружен", "Regular"),
    ("0b4f3b26-0000-4000-8000-000000000105", "Доставлен", "Successful"),
    ("0b4f3b26-0000-4000-8000-000000000106", "Возврат", "Unsuccessful"),
    ("0b4f3b26-0000-4000-8000-000000000107", "Отменен", "Unsuccessful"),
]
DEFAULT_PRODUCTS: list[dict[str, Any]] = [
    {
        "id": "0b4f3b26-0000-4000-8000-000000000201",
        "name": "Кроссовки беговые",
        "code": "SKU-001",
        "article": "RUN-42",
        "price": 350000,
        "salePrice": 599000,
        "stock": 10,
    },
    {
        "id": "0b4f3b26-0000-4000-8000-000000000202",
        "name": "Футболка хлопковая",
        "code": "SKU-002",
        "article": "TEE-M",
        "price": 60000,
        "salePrice": 149000,
        "stock": 25,
    },
    {
        "id": "0b4f3b26-0000-4000-8000-000000000203",
        "name": "Масло моторное 5W-30 4 л",
        "code": "SKU-003",
        "article": "OIL-5W30",
        "price": 210000,
        "salePrice": 329000,
        "stock": 5,
    },
]
WEBHOOK_ACTIONS = {"CREATE", "UPDATE", "DELETE", "PROCESSED"}
ORDER_FIELDS = ("state", "description", "shipmentAddressFull", "name")


class MoySkladStyle(VendorStyle):
    """`{"errors": [{"error", "code", "parameter", "moreInfo"}]}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        number = int(code) if code and code.isdigit() else 1000 + status
        error = {
            "error": message,
            "code": number,
            "moreInfo": f"https://dev.moysklad.ru/doc/api/remap/1.2/#error_{number}",
        }
        return {"errors": [error]}

    def missing(self, field: str) -> VendorError:
        body = self.body(
            400, f"Ошибка сохранения объекта: поле '{field}' не может быть пустым", "3000"
        )
        body["errors"][0]["parameter"] = field
        return VendorError(JSONResponse(body, status_code=400))

    def rate_limited(self, retry_after: float) -> Response:
        response = self.error(
            429, "Превышено ограничение на количество запросов в единицу времени", "1049"
        )
        response.headers["X-Lognex-Retry-After"] = str(int(retry_after * 1000))
        response.headers["X-RateLimit-Remaining"] = "0"
        return response


STYLE = MoySkladStyle()


def _moment() -> str:
    now = utc_now()
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}"


class Api:
    """The double's state operations, bound to one store and the URL it is mounted at."""

    def __init__(
        self,
        store: SandboxStore,
        root: str,
        announce: Callable[[dict[str, Any]], object] = lambda event: None,
    ) -> None:
        self.store = store
        self.base = f"{root}{PREFIX}"
        self.announce = announce  # deliver a webhook event (after the response, like MoySklad)

    # --- references ---------------------------------------------------------------------------

    def meta(self, entity: str, entity_id: str) -> dict[str, Any]:
        return {
            "href": f"{self.base}/entity/{entity}/{entity_id}",
            "metadataHref": f"{self.base}/entity/{entity}/metadata",
            "type": entity,
            "mediaType": JSON,
            "uuidHref": f"https://online.moysklad.ru/app/#{entity}/edit?id={entity_id}",
        }

    def ref(self, entity: str, entity_id: str) -> dict[str, Any]:
        return {"meta": self.meta(entity, entity_id)}

    def ref_id(self, ref: Any, entity: str, field: str) -> str:
        """The id in a `{"meta": {"href"}}` reference of type `entity`, else the vendor's 400."""
        meta = ref.get("meta") if isinstance(ref, dict) else None
        href = meta.get("href") if isinstance(meta, dict) else None
        if not isinstance(href, str) or f"/entity/{entity}/" not in href:
            raise STYLE.fail(
                400, f"Поле '{field}': ожидается ссылка на объект типа '{entity}'", "2016"
            )
        return href.rstrip("/").rsplit("/", 1)[-1]

    def not_found(self, entity: str, entity_id: str) -> VendorError:
        return STYLE.fail(404, f"Объект '{entity}' с UUID '{entity_id}' не найден", "1021")

    def state(self, state_id: str) -> dict[str, Any]:
        for sid, name, state_type in STATES:
            if sid == state_id:
                href = f"{self.base}/entity/customerorder/metadata/states/{sid}"
                meta = {"href": href, "type": "state", "mediaType": JSON}
                return {
                    "meta": meta,
                    "id": sid,
                    "accountId": ACCOUNT_ID,
                    "name": name,
                    "color": 15106326,
                    "stateType": state_type,
                    "entityType": "customerorder",
                }
        raise STYLE.fail(400, f"Статус с UUID '{state_id}' не найден", "3000")

    def state_of(self, ref: Any) -> dict[str, Any]:
        """The state a `{"meta": {"href": .../metadata/states/<id>}}` reference points at."""
        meta = ref.get("meta") if isinstance(ref, dict) else None
        href = meta.get("href") if isinstance(meta, dict) else None
        if not isinstance(href, str) or "/metadata/states/" not in href:
            raise STYLE.fail(400, "Поле 'state': ожидается ссылка на статус", "2016")
        return self.state(href.rstrip("/").rsplit("/", 1)[-1])

    def products(self) -> dict[str, dict[str, Any]]:
        catalog = {product["id"]: product for product in DEFAULT_PRODUCTS}
        catalog.update(
            {product["id"]: product for product in self.store.records(SYSTEM, "product")}
        )
        return catalog

    def agent_exists(self, agent_id: str) -> bool:
        return (
            agent_id == RETAIL_AGENT_ID
            or self.store.get(SYSTEM, "counterparty", agent_id) is not None
        )

    def insert(self, kind: str, doc_id: str, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new document once (a re-sent syncId finds the first) and announce CREATE."""
        stored, created = self.store.add_once(SYSTEM, kind, doc_id, doc)
        if created:
            self.announce(_event(stored, "CREATE"))
        return stored, created

    def load(self, kind: str, entity_id: str) -> dict[str, Any]:
        doc = self.store.get(SYSTEM, kind, entity_id)
        if doc is None:
            raise self.not_found(kind, entity_id)
        return doc

    # --- documents ----------------------------------------------------------------------------

    def new_doc(self, kind: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Id (derived from syncId, so a re-sent create finds the first) and common fields."""
        sync_id = body.get("syncId")
        doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{sync_id}")) if sync_id else new_uuid()
        moment = _moment()
        number = len(self.store.records(SYSTEM, kind)) + 1
        doc = {
            "meta": self.meta(kind, doc_id),
            "id": doc_id,
            "accountId": ACCOUNT_ID,
            "syncId": sync_id,
            "updated": moment,
            "created": moment,
            "name": body.get("name") or f"{number:05d}",
            "moment": body.get("moment") or moment,
            "applicable": body.get("applicable", True),
            "externalCode": body.get("externalCode") or uuid.uuid4().hex[:22],
            "description": body.get("description"),
        }
        return doc_id, doc

    def parties(self, body: dict[str, Any], *, need_store: bool) -> dict[str, Any]:
        """organization, agent and store of a document, checked against what the account has."""
        fields = ("organization", "agent", "store") if need_store else ("organization", "agent")
        require(STYLE, body, *fields)
        if self.ref_id(body["organization"], "organization", "organization") != ORGANIZATION_ID:
            raise self.not_found("organization", body["organization"]["meta"]["href"])
        agent_id = self.ref_id(body["agent"], "counterparty", "agent")
        if not self.agent_exists(agent_id):
            raise self.not_found("counterparty", agent_id)
        parties = {
            "organization": self.ref("organization", ORGANIZATION_ID),
            "agent": self.ref("counterparty", agent_id),
        }
        if body.get("store"):
            if self.ref_id(body["store"], "store", "store") != STORE_ID:
                raise self.not_found("store", body["store"]["meta"]["href"])
            parties["store"] = self.ref("store", STORE_ID)
        return parties

    def positions(self, raw: Any, parent_href: str, kind: str) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise STYLE.fail(400, "Поле 'positions' должно быть массивом", "2016")
        if len(raw) > MAX_POSITIONS:
            raise STYLE.fail(413, f"Не более {MAX_POSITIONS} позиций в одном запросе", "3004")
        catalog = self.products()
        return [self.position(item, catalog, parent_href, kind) for item in raw]

    def position(
        self, item: Any, catalog: dict[str, Any], parent_href: str, kind: str
    ) -> dict[str, Any]:
        require(STYLE, item, "assortment")
        product_id = self.ref_id(item["assortment"], "product", "assortment")
        if product_id not in catalog:
            raise self.not_found("product", product_id)
        quantity = float(item.get("quantity", 1))
        reserve = float(item.get("reserve", 0) or 0)
        if quantity <= 0 or reserve < 0 or reserve > quantity:
            raise STYLE.fail(400, "Неверное количество или резерв в позиции", "3000")
        position_id = new_uuid()
        row = {
            "meta": {
                "href": f"{parent_href}/positions/{position_id}",
                "type": f"{kind}position",
                "mediaType": JSON,
            },
            "id": position_id,
            "accountId": ACCOUNT_ID,
            "quantity": quantity,
            "price": int(item.get("price", catalog[product_id]["salePrice"])),
            "discount": float(item.get("discount", 0)),
            "vat": int(item.get("vat", 0)),
            "vatEnabled": int(item.get("vat", 0)) > 0,
            "assortment": self.ref("product", product_id),
        }
        if kind == "customerorder":
            row.update(reserve=reserve, shipped=0.0)
        return row

    def render(self, doc: dict[str, Any], *, expand: bool) -> dict[str, Any]:
        """A document as MoySklad shows it: positions as a collection reference unless expanded."""
        rows = doc.get("positions", [])
        meta = {
            "href": f"{doc['meta']['href']}/positions",
            "type": f"{doc['meta']['type']}position",
            "mediaType": JSON,
            "size": len(rows),
            "limit": 1000,
            "offset": 0,
        }
        collection: dict[str, Any] = {"meta": meta}
        if expand:
            collection["rows"] = rows
        return doc | {"positions": collection}


def _sum(rows: list[dict[str, Any]], field: str = "quantity") -> int:
    total = 0.0
    for row in rows:
        total += row[field] * row["price"] * (1 - row.get("discount", 0) / 100)
    return round(total)


def _emit_event(
    api: Api, settings: SandboxSettings, event: dict[str, Any], disable_prefix: str | None
) -> None:
    """Deliver one event to every matching webhook (MoySklad sends only the href)."""
    meta = event["meta"]
    for hook in api.store.records(SYSTEM, "webhook"):
        if not hook.get("enabled") or (hook["entityType"], hook["action"]) != (
            meta["type"],
            event["action"],
        ):
            continue
        if disable_prefix and hook["url"].startswith(disable_prefix):
            continue
        audit_id = new_uuid()
        payload = {
            "auditContext": {
                "meta": {"type": "audit", "href": f"{api.base}/audit/{audit_id}"},
                "uid": SANDBOX_LOGIN,
                "moment": _moment()[:19],
            },
            "events": [event | {"accountId": ACCOUNT_ID}],
        }
        joiner = "&" if "?" in hook["url"] else "?"
        url = f"{hook['url']}{joiner}requestId={new_uuid()}"
        emit(system=SYSTEM, store=api.store, settings=settings, url=url, payload=payload)


def _event(doc: dict[str, Any], action: str, fields: list[str] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "meta": {"type": doc["meta"]["type"], "href": doc["meta"]["href"]},
        "action": action,
    }
    if fields:
        event["updatedFields"] = fields
    return event


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The MoySklad double, to be mounted at /sandbox/moysklad."""
    settings = settings or SandboxSettings()
    vendor = APIRouter(prefix=PREFIX, dependencies=[Depends(_check_auth)])
    control = APIRouter()

    def api_for(request: Request, background: BackgroundTasks) -> Api:
        prefix = request.headers.get("X-Lognex-WebHook-DisableByPrefix")
        api = Api(store, mount_url(request))
        api.announce = lambda event: background.add_task(_emit_event, api, settings, event, prefix)
        return api

    @vendor.post("/security/token")
    def token() -> dict[str, Any]:
        return {"access_token": SANDBOX_TOKEN}

    @vendor.get("/entity/customerorder/metadata")
    def order_metadata(api: Api = Depends(api_for)) -> dict[str, Any]:
        meta = {"href": f"{api.base}/entity/customerorder/metadata", "mediaType": JSON}
        return {
            "meta": meta,
            "states": [api.state(sid) for sid, _, _ in STATES],
            "createShared": False,
        }

    @vendor.post("/entity/customerorder")
    def create_order(
        body: dict[str, Any] = Body(...), api: Api = Depends(api_for)
    ) -> dict[str, Any]:
        doc_id, doc = api.new_doc("customerorder", body)
        doc |= api.parties(body, need_store=False)
        doc["positions"] = api.positions(
            body.get("positions", []), doc["meta"]["href"], "customerorder"
        )
        state = api.state_of(body["state"]) if body.get("state") else api.state(STATES[0][0])
        doc["state"] = {"meta": state["meta"]}
        if body.get("shipmentAddressFull"):
            doc["shipmentAddressFull"] = body["shipmentAddressFull"]
        _recount_order(doc)
        stored, _ = api.insert("customerorder", doc_id, doc)
        return api.render(stored, expand=False)

    @vendor.get("/entity/customerorder/{order_id}")
    def get_order(order_id: str, expand: str = "", api: Api = Depends(api_for)) -> dict[str, Any]:
        return api.render(api.load("customerorder", order_id), expand="positions" in expand)

    @vendor.get("/entity/customerorder/{order_id}/positions")
    def order_positions(order_id: str, api: Api = Depends(api_for)) -> dict[str, Any]:
        positions = api.render(api.load("customerorder", order_id), expand=True)["positions"]
        return {"context": {"employee": {"meta": api.meta("employee", ACCOUNT_ID)}}} | positions

    @vendor.put("/entity/customerorder/{order_id}")
    def update_order(
        order_id: str, body: dict[str, Any] = Body(...), api: Api = Depends(api_for)
    ) -> dict[str, Any]:
        doc = api.load("customerorder", order_id)
        changed = _apply_order_changes(api, doc, body)
        store.put(SYSTEM, "customerorder", order_id, doc)
        api.announce(_event(doc, "UPDATE", changed))
        return api.render(doc, expand=False)

    @vendor.put("/entity/demand/new")
    def demand_template(body: dict[str, Any] = Body(...), api: Api = Depends(api_for)) -> Any:
        require(STYLE, body, "customerOrder")
        order = api.load(
            "customerorder", api.ref_id(body["customerOrder"], "customerorder", "customerOrder")
        )
        rows = [
            {key: row[key] for key in ("price", "discount", "vat", "assortment")}
            | {"quantity": row["quantity"] - row.get("shipped", 0)}
            for row in order["positions"]
            if row["quantity"] > row.get("shipped", 0)
        ]
        template = {key: order[key] for key in ("organization", "agent", "store") if key in order}
        meta = {
            "href": f"{api.base}/entity/demand/new/positions",
            "type": "demandposition",
            "mediaType": JSON,
            "size": len(rows),
            "limit": 1000,
            "offset": 0,
        }
        return template | {
            "applicable": True,
            "moment": _moment(),
            "sum": _sum(rows),
            "vatEnabled": True,
            "vatIncluded": True,
            "customerOrder": {"meta": order["meta"]},
            "positions": {"meta": meta, "rows": rows},
        }

    @vendor.post("/entity/demand")
    def create_demand(
        body: dict[str, Any] = Body(...), api: Api = Depends(api_for)
    ) -> dict[str, Any]:
        doc_id, doc = api.new_doc("demand", body)
        doc |= api.parties(body, need_store=True)
        doc["positions"] = api.positions(body.get("positions", []), doc["meta"]["href"], "demand")
        doc["sum"] = _sum(doc["positions"])
        order = None
        if body.get("customerOrder"):
            order = api.load(
                "customerorder", api.ref_id(body["customerOrder"], "customerorder", "customerOrder")
            )
            doc["customerOrder"] = {"meta": order["meta"]}
        stored, created = api.insert("demand", doc_id, doc)
        if created and order is not None:
            _ship(order, stored)
            store.put(SYSTEM, "customerorder", order["id"], order)
        return api.render(stored, expand=False)

    @vendor.put("/entity/paymentin/new")
    def payment_template(body: dict[str, Any] = Body(...), api: Api = Depends(api_for)) -> Any:
        require(STYLE, body, "operations")
        order = api.load(
            "customerorder", api.ref_id(body["operations"][0], "customerorder", "operations")
        )
        unpaid = max(order["sum"] - order["payedSum"], 0)
        return {
            "applicable": True,
            "moment": _moment(),
            "organization": order["organization"],
            "agent": order["agent"],
            "sum": unpaid,
            "vatSum": 0,
            "paymentPurpose": f"Оплата по заказу покупателя № {order['name']}",
            "operations": [{"meta": order["meta"], "linkedSum": unpaid}],
        }

    @vendor.post("/entity/paymentin")
    def create_payment(
        body: dict[str, Any] = Body(...), api: Api = Depends(api_for)
    ) -> dict[str, Any]:
        doc_id, doc = api.new_doc("paymentin", body)
        doc |= api.parties(body, need_store=False)
        require(STYLE, body, "sum")
        doc.update(sum=int(body["sum"]), paymentPurpose=body.get("paymentPurpose", ""))
        links = []
        for operation in body.get("operations", []):
            order = api.load("customerorder", api.ref_id(operation, "customerorder", "operations"))
            links.append((order, int(operation.get("linkedSum", doc["sum"]))))
        doc["operations"] = [
            {"meta": order["meta"], "linkedSum": linked} for order, linked in links
        ]
        stored, created = api.insert("paymentin", doc_id, doc)
        for order, linked in links if created else []:
            order["payedSum"] += linked
            order.setdefault("payments", []).append({"meta": stored["meta"]})
            store.put(SYSTEM, "customerorder", order["id"], order)
        return stored

    @vendor.post("/entity/counterparty")
    def create_counterparty(body: dict[str, Any] = Body(...), api: Api = Depends(api_for)) -> Any:
        require(STYLE, body, "name")
        doc_id, doc = api.new_doc("counterparty", body)
        fields = ("phone", "email", "companyType", "actualAddress")
        doc.update({key: body[key] for key in fields if key in body})
        doc["name"] = body["name"]
        return api.insert("counterparty", doc_id, doc)[0]

    @vendor.get("/entity/{kind}/{entity_id}")
    def get_entity(kind: str, entity_id: str, api: Api = Depends(api_for)) -> dict[str, Any]:
        if kind not in {"demand", "paymentin", "counterparty"}:
            raise api.not_found(kind, entity_id)
        doc = api.load(kind, entity_id)
        return api.render(doc, expand=False) if "positions" in doc else doc

    @vendor.get("/report/stock/all")
    def stock_report(filter: str = "", api: Api = Depends(api_for)) -> dict[str, Any]:
        rows = _stock_rows(api)
        if filter.startswith("store=") and not filter.rstrip("/").endswith(STORE_ID):
            rows = []
        meta = {
            "href": f"{api.base}/report/stock/all",
            "type": "stock",
            "mediaType": JSON,
            "size": len(rows),
            "limit": 1000,
            "offset": 0,
        }
        return {
            "context": {"employee": {"meta": api.meta("employee", ACCOUNT_ID)}},
            "meta": meta,
            "rows": rows,
        }

    @vendor.post("/entity/webhook")
    def create_webhook(body: dict[str, Any] = Body(...), api: Api = Depends(api_for)) -> Any:
        require(STYLE, body, "url", "action", "entityType")
        if body["action"] not in WEBHOOK_ACTIONS or not str(body["url"]).startswith("http"):
            raise STYLE.fail(400, "Неверное значение поля 'action' или 'url'", "3000")
        for hook in store.records(SYSTEM, "webhook"):
            if (hook["url"], hook["action"], hook["entityType"]) == (
                body["url"],
                body["action"],
                body["entityType"],
            ):
                raise STYLE.fail(
                    412, "Вебхук с такими url, action и entityType уже существует", "30002"
                )
        hook_id = new_uuid()
        hook = {
            "meta": api.meta("webhook", hook_id),
            "id": hook_id,
            "accountId": ACCOUNT_ID,
            "entityType": body["entityType"],
            "url": body["url"],
            "method": "POST",
            "enabled": True,
            "action": body["action"],
        }
        if body.get("diffType"):
            hook["diffType"] = body["diffType"]
        store.add(SYSTEM, "webhook", hook_id, hook)
        return hook

    @vendor.get("/entity/webhook")
    def list_webhooks(api: Api = Depends(api_for)) -> dict[str, Any]:
        rows = store.records(SYSTEM, "webhook")
        meta = {
            "href": f"{api.base}/entity/webhook",
            "type": "webhook",
            "mediaType": JSON,
            "size": len(rows),
            "limit": 100,
            "offset": 0,
        }
        return {"meta": meta, "rows": rows}

    @control.post("/orders/{order_id}/state")
    def control_state(
        order_id: str, body: dict[str, Any] = Body(...), api: Api = Depends(api_for)
    ) -> dict[str, Any]:
        doc = api.load("customerorder", order_id)
        state_id = next((sid for sid, name, _ in STATES if name == body.get("state")), None)
        if state_id is None:
            raise STYLE.fail(400, f"unknown state {body.get('state')!r}")
        doc["state"] = {"meta": api.state(state_id)["meta"]}
        doc["updated"] = _moment()
        store.put(SYSTEM, "customerorder", order_id, doc)
        _emit_event(api, settings, _event(doc, "UPDATE", ["state"]), None)
        return api.render(doc, expand=False)

    @control.post("/products")
    def control_products(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        products = body.get("products") or []
        for product in products:
            require(STYLE, product, "name", "salePrice")
            product.setdefault("id", new_uuid())
            product.setdefault("stock", 0)
            product.setdefault("price", product["salePrice"])
            store.put(SYSTEM, "product", product["id"], product)
        return {"products": products}

    app = build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
    app.add_middleware(GZipMiddleware, minimum_size=200)
    return app


def _check_auth(request: Request) -> None:
    if request.headers.get("accept-encoding", "").strip() != "gzip":
        raise VendorError(Response(status_code=415))
    basic = base64.b64encode(f"{SANDBOX_LOGIN}:{SANDBOX_PASSWORD}".encode()).decode()
    if request.headers.get("authorization") not in {f"Bearer {SANDBOX_TOKEN}", f"Basic {basic}"}:
        raise STYLE.fail(
            401,
            "Ошибка аутентификации: Неправильный пароль или имя пользователя или ключ авторизации",
            "1056",
        )


def _apply_order_changes(api: Api, doc: dict[str, Any], body: dict[str, Any]) -> list[str]:
    changed = [field for field in ORDER_FIELDS if field in body]
    if "state" in body:
        doc["state"] = {"meta": api.state_of(body["state"])["meta"]}
    for field in ("description", "shipmentAddressFull", "name"):
        if field in body:
            doc[field] = body[field]
    if "positions" in body:  # MoySklad: a PUT with positions replaces the whole collection
        doc["positions"] = api.positions(body["positions"], doc["meta"]["href"], "customerorder")
        changed.append("positions")
    _recount_order(doc)
    doc["updated"] = _moment()
    return changed


def _recount_order(doc: dict[str, Any]) -> None:
    rows = doc["positions"]
    doc["sum"] = _sum(rows)
    doc["reservedSum"] = _sum(rows, "reserve")
    doc.setdefault("payedSum", 0)
    doc.setdefault("shippedSum", 0)
    doc.setdefault("invoicedSum", 0)
    doc.update(vatEnabled=True, vatIncluded=True)


def _ship(order: dict[str, Any], demand: dict[str, Any]) -> None:
    """A demand linked to the order ships its positions and releases their reserve."""
    for shipped in demand["positions"]:
        product = shipped["assortment"]["meta"]["href"]
        left = shipped["quantity"]
        for row in order["positions"]:
            if row["assortment"]["meta"]["href"] != product or left <= 0:
                continue
            take = min(left, row["quantity"] - row.get("shipped", 0))
            row["shipped"] = row.get("shipped", 0) + take
            row["reserve"] = max(row.get("reserve", 0) - take, 0)
            left -= take
    order["shippedSum"] += demand["sum"]
    order.setdefault("demands", []).append({"meta": demand["meta"]})
    _recount_order(order)


def _stock_rows(api: Api) -> list[dict[str, Any]]:
    shipped: dict[str, float] = {}
    reserved: dict[str, float] = {}
    for demand in api.store.records(SYSTEM, "demand"):
        for row in demand["positions"]:
            href = row["assortment"]["meta"]["href"]
            shipped[href] = shipped.get(href, 0) + row["quantity"]
    for order in api.store.records(SYSTEM, "customerorder"):
        for row in order["positions"]:
            href = row["assortment"]["meta"]["href"]
            reserved[href] = reserved.get(href, 0) + row.get("reserve", 0)
    rows = []
    for product in api.products().values():
        meta = api.meta("product", product["id"])
        stock = float(product.get("stock", 0)) - shipped.get(meta["href"], 0)
        reserve = reserved.get(meta["href"], 0)
        rows.append(
            {
                "meta": meta,
                "stock": stock,
                "inTransit": 0.0,
                "reserve": reserve,
                "quantity": stock - reserve,
                "name": product["name"],
                "code": product.get("code"),
                "article": product.get("article"),
                "price": product.get("price", 0),
                "salePrice": product["salePrice"],
                "externalCode": product["id"][-8:],
                "uom": {
                    "meta": api.meta("uom", "19f1edc0-fc42-4001-94cb-c9ec9c62ec10"),
                    "name": "шт",
                },
                "stockDays": 0,
            }
        )
    return rows
