"""Nova Poshta double: one JSON endpoint with the API 2.0 envelope.

Vendor behaviour kept: every answer is `{success, data, errors, warnings, info, messageCodes,
errorCodes, warningCodes, infoCodes}` and refusals are HTTP 200 with `success: false` (a wrong
`apiKey`, an unknown method, a missing field). Methods: `Address.getWarehouses` (a seeded
directory of Kyiv and Lviv branches), `Counterparty.save`, `InternetDocument.save` /
`getDocumentList`, `TrackingDocument.getStatusDocuments`.
Control: `POST /_control/warehouses/{ref}/status {"status": "Closed"}` (a branch closes
today), `POST /_control/waybills/{number}/status {"code": "9"}` (the parcel moved).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, FastAPI
from fastapi.responses import JSONResponse, Response

from connectors.nova_poshta.config import KYIV_REF, LVIV_REF, SANDBOX_API_KEY
from connectors.sandbox_kit import SandboxSettings, VendorError, VendorStyle, build_app
from connectors.sandbox_store import SandboxStore

SYSTEM = "nova_poshta"
STATUSES = {
    "1": "Відправник самостійно створив цю накладну, але ще не надав до відправки",
    "3": "Номер не знайдено",
    "4": "Відправлення у місті відправника",
    "5": "Відправлення прямує до міста одержувача",
    "7": "Прибув на відділення",
    "9": "Відправлення отримано",
    "102": "Відмова від отримання",
}
CITIES = {KYIV_REF: "Київ", LVIV_REF: "Львів"}
WAYBILL_FIELDS = (
    "PayerType",
    "PaymentMethod",
    "DateTime",
    "CargoType",
    "Weight",
    "ServiceType",
    "SeatsAmount",
    "Description",
    "Cost",
    "CitySender",
    "Sender",
    "SenderAddress",
    "ContactSender",
    "SendersPhone",
    "CityRecipient",
    "Recipient",
    "RecipientAddress",
    "ContactRecipient",
    "RecipientsPhone",
)
RECIPIENT_FIELDS = ("CounterpartyProperty", "CityRef", "FirstName", "LastName", "Phone")


def _warehouse(number: int, city_ref: str, street: str, kind: str = "Branch") -> dict[str, Any]:
    city = CITIES[city_ref]
    description = f"Відділення №{number}: {street}"
    return {
        "SiteKey": str(10000 + number),
        "Description": description,
        "DescriptionRu": description.replace("Відділення", "Отделение"),
        "ShortAddress": f"{city}, {street}",
        "ShortAddressRu": f"{city}, {street}",
        "Phone": "380800500609",
        "TypeOfWarehouse": "841339c7-591a-42e2-8233-7a0a00f0ed6f",
        "Ref": str(uuid.uuid5(uuid.NAMESPACE_URL, f"np:{city_ref}:{number}")),
        "Number": str(number),
        "CityRef": city_ref,
        "CityDescription": city,
        "CityDescriptionRu": city,
        "CategoryOfWarehouse": kind,
        "WarehouseStatus": "Working",
        "WarehouseStatusDate": "2024-01-01 00:00:00",
        "TotalMaxWeightAllowed": "30" if kind == "Postomat" else "1000",
    }


DIRECTORY = [
    _warehouse(1, KYIV_REF, "вул. Пирогівський шлях, 135"),
    _warehouse(2, KYIV_REF, "вул. Богатирська, 11"),
    _warehouse(3, KYIV_REF, "вул. Слобожанська, 13"),
    _warehouse(5, KYIV_REF, "вул. Федорова, 32", "Postomat"),
    _warehouse(1, LVIV_REF, "вул. Городоцька, 355/6"),
    _warehouse(2, LVIV_REF, "вул. Угорська, 22"),
]


def envelope(
    data: list[Any], errors: list[str] | None = None, codes: list[str] | None = None
) -> dict[str, Any]:
    """The API 2.0 envelope every answer has."""
    return {
        "success": not errors,
        "data": data,
        "errors": errors or [],
        "warnings": [],
        "info": {"totalCount": len(data)},
        "messageCodes": [],
        "errorCodes": codes or [],
        "warningCodes": [],
        "infoCodes": [],
    }


class NovaPoshtaStyle(VendorStyle):
    """Errors are the envelope with `success: false` (HTTP 200 for refusals)."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return envelope([], [message], [code or str(status)])

    def refuse(self, message: str, code: str) -> VendorError:
        return VendorError(JSONResponse(self.body(200, message, code), status_code=200))

    def bad_request(self, detail: str) -> Response:
        return JSONResponse(self.body(200, f"Invalid request: {detail}", "20000900746"))


STYLE = NovaPoshtaStyle()


class Carrier:
    """The double's operations on one store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def warehouses(self, props: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [self.store.get(SYSTEM, "warehouse", w["Ref"]) or w for w in DIRECTORY]
        if props.get("CityRef"):
            rows = [w for w in rows if w["CityRef"] == props["CityRef"]]
        if props.get("CityName"):
            rows = [w for w in rows if w["CityDescription"] == props["CityName"]]
        limit = int(props.get("Limit") or 500)
        start = (int(props.get("Page") or 1) - 1) * limit
        return rows[start : start + limit]

    def save_recipient(self, props: dict[str, Any]) -> list[dict[str, Any]]:
        missing = [field for field in RECIPIENT_FIELDS if not props.get(field)]
        if missing:
            raise STYLE.refuse(f"{missing[0]} is empty", "20000200306")
        ref = str(uuid.uuid4())
        name = f"{props['LastName']} {props['FirstName']} {props.get('MiddleName', '')}".strip()
        contact = {
            "Ref": str(uuid.uuid4()),
            "Description": name,
            "LastName": props["LastName"],
            "FirstName": props["FirstName"],
            "MiddleName": props.get("MiddleName", ""),
        }
        recipient = {
            "Ref": ref,
            "Description": "Приватна особа",
            "FirstName": props["FirstName"],
            "LastName": props["LastName"],
            "MiddleName": props.get("MiddleName", ""),
            "CounterpartyType": "PrivatePerson",
            "Phone": props["Phone"],
            "ContactPerson": {"success": True, "data": [contact]},
        }
        self.store.add(SYSTEM, "recipient", ref, recipient)
        return [recipient]

    def save_waybill(self, props: dict[str, Any]) -> list[dict[str, Any]]:
        missing = [field for field in WAYBILL_FIELDS if props.get(field) in (None, "")]
        if missing:
            raise STYLE.refuse(f"{missing[0]} is empty", "20000900746")
        try:
            sent = datetime.strptime(str(props["DateTime"]), "%d.%m.%Y")
        except ValueError:
            raise STYLE.refuse("DateTime has invalid format", "20000900768") from None
        if float(props["Weight"]) <= 0:
            raise STYLE.refuse("Weight is invalid", "20000900779")
        number = str(20_450_000_000_000 + len(self.store.records(SYSTEM, "waybill")) + 1)
        waybill = {
            "Ref": str(uuid.uuid4()),
            "CostOnSite": 70 + 5 * round(float(props["Weight"])),
            "EstimatedDeliveryDate": (sent + timedelta(days=2)).strftime("%d.%m.%Y"),
            "IntDocNumber": number,
            "TypeDocument": "InternetDocument",
        }
        stored = waybill | {"properties": props, "StatusCode": "1"}
        self.store.add(SYSTEM, "waybill", number, stored)
        return [waybill]

    def document_list(self, props: dict[str, Any]) -> list[dict[str, Any]]:
        dates = {props.get("DateTimeFrom"), props.get("DateTimeTo")}
        return [
            {
                "Ref": w["Ref"],
                "IntDocNumber": w["IntDocNumber"],
                "CostOnSite": w["CostOnSite"],
                "EstimatedDeliveryDate": w["EstimatedDeliveryDate"],
                "InfoRegClientBarcodes": w["properties"].get("InfoRegClientBarcodes", ""),
                "StateId": w["StatusCode"],
                "StateName": STATUSES[w["StatusCode"]],
            }
            for w in self.store.records(SYSTEM, "waybill")
            if w["properties"]["DateTime"] in dates
        ]

    def track(self, props: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for item in props.get("Documents") or []:
            number = str(item.get("DocumentNumber", ""))
            waybill = self.store.get(SYSTEM, "waybill", number)
            if waybill is None:
                rows.append({"Number": number, "StatusCode": "3", "Status": STATUSES["3"]})
                continue
            sent = waybill["properties"]
            rows.append(
                {
                    "Number": number,
                    "StatusCode": waybill["StatusCode"],
                    "Status": STATUSES[waybill["StatusCode"]],
                    "ScheduledDeliveryDate": waybill["EstimatedDeliveryDate"] + " 09:00:00",
                    "CityRecipient": CITIES.get(sent["CityRecipient"], ""),
                    "WarehouseRecipientRef": sent["RecipientAddress"],
                    "DocumentWeight": float(sent["Weight"]),
                    "DocumentCost": waybill["CostOnSite"],
                }
            )
        return rows


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The Nova Poshta double, to be mounted at /sandbox/nova_poshta."""
    settings = settings or SandboxSettings()
    carrier = Carrier(store)
    methods = {
        ("Address", "getWarehouses"): carrier.warehouses,
        ("AddressGeneral", "getWarehouses"): carrier.warehouses,
        ("Counterparty", "save"): carrier.save_recipient,
        ("InternetDocument", "save"): carrier.save_waybill,
        ("InternetDocument", "getDocumentList"): carrier.document_list,
        ("TrackingDocument", "getStatusDocuments"): carrier.track,
    }
    vendor = APIRouter(prefix="/v2.0/json")
    control = APIRouter()

    @vendor.post("/")
    @vendor.post("")
    def endpoint(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        if body.get("apiKey") != SANDBOX_API_KEY:
            raise STYLE.refuse("API auth fail", "20000100003")
        method = methods.get((str(body.get("modelName")), str(body.get("calledMethod"))))
        if method is None:
            raise STYLE.refuse("Method does not exist", "20000100016")
        properties = body.get("methodProperties") or {}
        if not isinstance(properties, dict):
            raise STYLE.refuse("MethodProperties must be an object", "20000900746")
        return envelope(method(properties))

    @control.post("/warehouses/{ref}/status")
    def warehouse_status(ref: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        current = store.get(SYSTEM, "warehouse", ref) or next(
            (w for w in DIRECTORY if w["Ref"] == ref), None
        )
        if current is None:
            raise STYLE.fail(404, f"no warehouse {ref}")
        current = current | {"WarehouseStatus": body.get("status", "Closed")}
        store.put(SYSTEM, "warehouse", ref, current)
        return current

    @control.post("/waybills/{number}/status")
    def waybill_status(number: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        waybill = store.get(SYSTEM, "waybill", number)
        if waybill is None or str(body.get("code")) not in STATUSES:
            raise STYLE.fail(404, f"no waybill {number} or unknown code")
        waybill["StatusCode"] = str(body["code"])
        store.put(SYSTEM, "waybill", number, waybill)
        return waybill

    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
