"""Courier operators: quote, create the shipment, track it — CDEK, Russian Post, Nova Poshta,
the shop's own courier, or pickup, chosen by the `carrier` parameter (the deal's method).

The request is pre-filled from the deal (recipient, phone, city, address or branch, weight in
kg, places, items); the warehouse only confirms it. `cod_amount` 0 means prepaid: no cash on
delivery. Statuses of every carrier are told in one vocabulary (`STATUSES`), the same words
the courier webhooks deliver in `shipment_status` messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connectors.base import PermanentConnectorError
from engine.operators import HandlerContext, operator
from handlers.base import (
    HandlerRefusal,
    decimal_amount,
    digits,
    quantity,
    total_weight_kg,
)
from handlers.clients import Clients, clients_for

CARRIERS = ("cdek", "russian_post", "nova_poshta", "courier", "pickup")
STATUSES = ("created", "in_transit", "arrived", "delivered", "not_delivered", "unknown")
CDEK_STATUSES = {
    "ACCEPTED": "created",
    "CREATED": "created",
    "RECEIVED_AT_SHIPMENT_WAREHOUSE": "in_transit",
    "READY_FOR_SHIPMENT_IN_SENDER_CITY": "in_transit",
    "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY": "in_transit",
    "TAKEN_BY_COURIER": "in_transit",
    "ACCEPTED_AT_PICK_UP_POINT": "arrived",
    "DELIVERED": "delivered",
    "NOT_DELIVERED": "not_delivered",
    "INVALID": "not_delivered",
}
NOVA_POSHTA_STATUSES = {
    "1": "created",
    "2": "not_delivered",  # deleted
    "3": "unknown",  # number not found
    "4": "in_transit",
    "5": "in_transit",
    "6": "in_transit",
    "7": "arrived",
    "8": "arrived",
    "9": "delivered",
    "10": "delivered",
    "11": "delivered",
    "102": "not_delivered",
    "103": "not_delivered",
}
_INDEX = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def cdek_status(code: str | None) -> str:
    """Our status word for a CDEK status code (unknown codes: still on the way)."""
    if not code:
        return "unknown"
    return CDEK_STATUSES.get(code, "in_transit")


def _days(first: int, last: int, today: date | None = None) -> dict[str, Any]:
    start = (today or date.today()) + timedelta(days=first)
    end = (today or date.today()) + timedelta(days=max(first, last))
    text = f"{start:%d.%m.%Y}" if start == end else f"{start:%d.%m.%Y}–{end:%d.%m.%Y}"
    return {
        "delivery_dates": text,
        "delivery_from": start.isoformat(),
        "delivery_to": end.isoformat(),
    }


def _grams(kg: float) -> int:
    return max(round(kg * 1000), 1)


def _carrier(carrier: str) -> str:
    if carrier not in CARRIERS:
        known = ", ".join(CARRIERS)
        raise HandlerRefusal("unknown_carrier", f"unknown carrier {carrier!r} (known: {known})")
    return carrier


def _postal_index(*texts: str) -> str:
    for text in texts:
        found = _INDEX.search(text or "")
        if found:
            return found.group(1)
    raise HandlerRefusal("no_postal_index", "Russian Post needs a 6-digit postal index")


# --- quotes ---------------------------------------------------------------------------------


def _cdek_target(city: str, address: str, branch: str) -> dict[str, Any]:
    if branch:
        return {"delivery_point": branch}
    location = {"city": city}
    if address:
        location["address"] = address
    return {"to_location": location}


def _quote_cdek(clients: Clients, city: str, address: str, branch: str, kg: float) -> dict:
    settings = clients.settings
    length, width, height = settings.package_dimensions
    tariff = clients.cdek().calculate_tariff(
        tariff_code=settings.cdek_tariff_to_point if branch else settings.cdek_tariff_to_door,
        from_location={"city": settings.cdek_from_city},
        to_location={"city": city, **({"address": address} if address else {})},
        packages=[{"weight": _grams(kg), "length": length, "width": width, "height": height}],
    )
    price = decimal_amount(tariff.get("total_sum", tariff.get("delivery_sum", 0)))
    first, last = int(tariff.get("period_min") or 1), int(tariff.get("period_max") or 1)
    return {"price": float(price), "currency": tariff.get("currency", "RUB")} | _days(first, last)


def _quote_russian_post(clients: Clients, city: str, address: str, branch: str, kg: float) -> dict:
    tariff = clients.russian_post().calculate_tariff(
        index_to=_postal_index(branch, address),
        mass=_grams(kg),
        mail_type=clients.settings.russian_post_mail_type,
    )
    price = Decimal(int(tariff.get("total-rate", 0)) + int(tariff.get("total-vat", 0))) / 100
    period = tariff.get("delivery-time") or {}
    first, last = int(period.get("min-days") or 1), int(period.get("max-days") or 1)
    return {"price": float(price), "currency": "RUB"} | _days(first, last)


def _quote_nova_poshta(clients: Clients, city: str, address: str, branch: str, kg: float) -> dict:
    found = _nova_poshta_branch(clients, city, branch)
    # The tariff (InternetDocument.getDocumentPrice) is not in the reference: the carrier
    # charges the recipient on delivery, so the quote says when, not how much.
    return {"price": None, "currency": "UAH", "branch": found["Description"]} | _days(1, 3)


def _quote_courier(clients: Clients, city: str, address: str, branch: str, kg: float) -> dict:
    settings = clients.settings
    first = settings.courier_min_days
    last = first + max(settings.courier_window_days - 1, 0)
    available = [(date.today() + timedelta(days=d)).isoformat() for d in range(first, last + 1)]
    quote = {"price": float(settings.courier_price), "currency": "RUB"} | _days(first, first)
    return quote | {"available_dates": available}


def _quote_pickup(clients: Clients, city: str, address: str, branch: str, kg: float) -> dict:
    return {"price": 0.0, "currency": "RUB"} | _days(0, 0)


_QUOTES: dict[str, Callable[[Clients, str, str, str, float], dict[str, Any]]] = {
    "cdek": _quote_cdek,
    "russian_post": _quote_russian_post,
    "nova_poshta": _quote_nova_poshta,
    "courier": _quote_courier,
    "pickup": _quote_pickup,
}


@operator("courier.quote", inline=False)
def quote(
    ctx: HandlerContext,
    carrier: str,
    city: str = "",
    address: str = "",
    branch: str = "",
    weight: Any = 0,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Price and delivery dates of a parcel with this carrier.

    Args:
        carrier: cdek | russian_post | nova_poshta | courier (the shop's own) | pickup.
        city: the recipient's city.
        address: street address (Russian Post reads the 6-digit index from it).
        branch: a pick-up point / branch (CDEK point code, Nova Poshta branch number or ref).
        weight: the parcel weight in kg (default: items' weight × qty).
        items: the deal's items, used when no weight is given.

    Returns:
        {"carrier", "price" (rubles; None when the carrier charges on delivery), "currency",
        "delivery_dates" ("dd.mm.yyyy–dd.mm.yyyy"), "delivery_from", "delivery_to"};
        the courier also lists "available_dates" (from `courier_min_days` days ahead).
    """
    kg = total_weight_kg(items, weight) if _carrier(carrier) != "pickup" else 0.0
    found = _QUOTES[carrier](clients_for(ctx), city or "", address or "", branch or "", kg)
    return {"carrier": carrier} | found


# --- shipments ------------------------------------------------------------------------------


def _names(recipient: str) -> tuple[str, str]:
    """(given name, surname) of "Иван Петров" / "Петров Иван Сергеевич" (first word = name)."""
    words = (recipient or "").split()
    if not words:
        raise HandlerRefusal("no_recipient", "the shipment needs the recipient's name")
    return words[0], " ".join(words[1:]) or words[0]


def _cod_shares(items: list[dict[str, Any]], cod: Decimal) -> list[Decimal]:
    """Cash on delivery spread over the items in proportion to their price × qty."""
    totals = [decimal_amount(item.get("price", 0)) * Decimal(str(quantity(item))) for item in items]
    whole = sum(totals, Decimal(0))
    if cod <= 0 or whole <= 0:
        return [Decimal(0)] * len(items)
    return [(cod * total / whole).quantize(Decimal("0.01")) for total in totals]


def _cdek_packages(
    clients: Clients, kg: float, places: int, items: list[dict[str, Any]], cod: Decimal
) -> list[dict[str, Any]]:
    length, width, height = clients.settings.package_dimensions
    lines = []
    for number, (item, share) in enumerate(zip(items, _cod_shares(items, cod), strict=True), 1):
        amount = quantity(item)
        lines.append(
            {
                "name": str(item.get("name") or item.get("sku") or f"Товар {number}"),
                "ware_key": str(item.get("sku") or item.get("product_id") or number),
                "payment": {"value": float(share / Decimal(str(amount)))},
                "cost": float(decimal_amount(item.get("price", 0))),
                "weight": _grams(float(item.get("weight") or kg / max(len(items), 1))),
                "amount": amount,
            }
        )
    packages = []
    for place in range(1, places + 1):
        package = {
            "number": str(place),
            "weight": _grams(kg / places),
            "length": length,
            "width": width,
            "height": height,
        }
        if place == 1:
            package["items"] = lines
        packages.append(package)
    return packages


def _ship_cdek(clients: Clients, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
    settings = clients.settings
    branch = request["branch"]
    order = {
        "type": 1,
        "number": order_id,
        "tariff_code": settings.cdek_tariff_to_point if branch else settings.cdek_tariff_to_door,
        "comment": f"Заказ {order_id}",
        "from_location": {"city": settings.cdek_from_city},
        **_cdek_target(request["city"], request["address"], branch),
        "recipient": {
            "name": request["recipient"],
            "phones": [{"number": f"+{digits(request['phone'])}"}],
        },
        "delivery_recipient_cost": {"value": 0},
        "packages": _cdek_packages(
            clients, request["kg"], request["places"], request["items"], request["cod"]
        ),
    }
    created = clients.cdek().create_order(order)
    entity = created["entity"]
    return {"track_number": entity.get("cdek_number"), "shipment_id": entity.get("uuid")}


def _ship_russian_post(clients: Clients, order_id: str, request: dict[str, Any]) -> dict:
    if request["cod"] > 0:
        raise HandlerRefusal(
            "cod_not_supported", "cash on delivery with Russian Post is not supported yet"
        )
    given, surname = _names(request["recipient"])
    phone = digits(request["phone"])
    shipment = clients.russian_post().create_shipment(
        {
            "order-num": order_id,
            "address-type-to": "DEFAULT",
            "mail-type": clients.settings.russian_post_mail_type,
            "mail-category": "ORDINARY",
            "mass": _grams(request["kg"]),
            "index-to": _postal_index(request["branch"], request["address"]),
            "region-to": request["city"],
            "place-to": request["city"],
            "street-to": request["address"],
            "given-name": given,
            "surname": surname,
            "recipient-name": request["recipient"],
            "tel-address": int(phone) if phone else None,
            "fragile": False,
        }
    )
    track = shipment.get("barcode") or str(shipment.get("id"))
    return {"track_number": track, "shipment_id": str(shipment.get("id"))}


def _nova_poshta_branch(clients: Clients, city: str, branch: str) -> dict[str, Any]:
    if not branch:
        raise HandlerRefusal("branch_required", "Nova Poshta delivers to a branch: name one")
    branches = clients.nova_poshta().get_warehouses(city_name=city)
    number = next(iter(re.findall(r"\d+", branch)), None)
    for found in branches:
        if branch in (found.get("Ref"), found.get("Description")) or (
            number is not None and found.get("Number") == number
        ):
            if found.get("WarehouseStatus", "Working") != "Working":
                raise HandlerRefusal("branch_closed", f"branch {found['Description']} is closed")
            return found
    raise HandlerRefusal("unknown_branch", f"no Nova Poshta branch {branch!r} in {city!r}")


def _ship_nova_poshta(clients: Clients, order_id: str, request: dict[str, Any]) -> dict:
    client = clients.nova_poshta()
    found = _nova_poshta_branch(clients, request["city"], request["branch"])
    given, surname = _names(request["recipient"])
    phone = digits(request["phone"])
    person = client.save_recipient(
        city_ref=found["CityRef"], first_name=given, last_name=surname, phone=phone
    )
    declared = sum(
        (decimal_amount(i.get("price", 0)) * Decimal(str(quantity(i))) for i in request["items"]),
        Decimal(0),
    )
    properties: dict[str, Any] = {
        "PayerType": "Recipient",
        "PaymentMethod": "Cash",
        "DateTime": date.today().strftime("%d.%m.%Y"),
        "CargoType": "Parcel",
        "Weight": f"{request['kg']:g}",
        "ServiceType": "WarehouseWarehouse",
        "SeatsAmount": str(request["places"]),
        "Description": f"Заказ {order_id}",
        "Cost": str(max(int(declared), 1)),
        "CityRecipient": found["CityRef"],
        "Recipient": person["Ref"],
        "RecipientAddress": found["Ref"],
        "ContactRecipient": person["ContactPerson"]["data"][0]["Ref"],
        "RecipientsPhone": phone,
    }
    if request["cod"] > 0:
        cod = str(request["cod"])
        cash = {"PayerType": "Recipient", "CargoType": "Money", "RedeliveryString": cod}
        properties["BackwardDeliveryData"] = [cash]
    waybill = client.create_waybill(order_id, properties)
    return {
        "track_number": waybill.get("IntDocNumber"),
        "shipment_id": waybill.get("Ref"),
        "delivery_dates": waybill.get("EstimatedDeliveryDate"),
        "cost": waybill.get("CostOnSite"),
    }


def _ship_courier(clients: Clients, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
    first = clients.settings.courier_min_days
    return {"track_number": order_id, "shipment_id": None} | _days(first, first)


def _ship_pickup(clients: Clients, order_id: str, request: dict[str, Any]) -> dict[str, Any]:
    return {"track_number": order_id, "shipment_id": None}


_SHIPMENTS: dict[str, Callable[[Clients, str, dict[str, Any]], dict[str, Any]]] = {
    "cdek": _ship_cdek,
    "russian_post": _ship_russian_post,
    "nova_poshta": _ship_nova_poshta,
    "courier": _ship_courier,
    "pickup": _ship_pickup,
}


@operator("courier.create_shipment", inline=False)
def create_shipment(
    ctx: HandlerContext,
    carrier: str,
    order_id: str,
    recipient: str,
    phone: str,
    city: str = "",
    address: str = "",
    branch: str = "",
    weight: Any = 0,
    places: int = 1,
    cod_amount: Any = 0,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Hand the order to the carrier: a shipment pre-filled from the deal (created once).

    Args:
        carrier: cdek | russian_post | nova_poshta | courier | pickup.
        order_id: our order; the carrier's order number (CDEK `number`, Russian Post
            `order-num`, Nova Poshta `InfoRegClientBarcodes`), looked up before re-creating.
        recipient: the recipient's full name.
        phone: the recipient's phone.
        city: the recipient's city.
        address: street address (Russian Post: with the 6-digit index).
        branch: pick-up point / branch (CDEK point code, Nova Poshta branch number or ref).
        weight: total weight in kg (default: items' weight × qty).
        places: number of parcels.
        cod_amount: cash to collect on delivery in rubles; 0 when prepaid.
        items: [{sku, name, qty, price, weight}] for the carrier's declaration.

    Returns:
        {"carrier", "track_number", "shipment_id", "delivery_dates" (when the carrier says)}.
    """
    _carrier(carrier)
    request = {
        "recipient": str(recipient or "").strip(),
        "phone": phone,
        "city": city or "",
        "address": address or "",
        "branch": branch or "",
        "kg": total_weight_kg(items, weight) if carrier != "pickup" else 0.0,
        "places": max(int(places or 1), 1),
        "cod": decimal_amount(cod_amount or 0, field="cod_amount"),
        "items": list(items or []),
    }
    if carrier in ("cdek", "russian_post", "nova_poshta") and not digits(phone):
        raise HandlerRefusal("no_phone", "the carrier needs the recipient's phone")
    shipment = _SHIPMENTS[carrier](clients_for(ctx), str(order_id), request)
    return {"carrier": carrier, "delivery_dates": None} | shipment


# --- tracking -------------------------------------------------------------------------------


def _track_cdek(clients: Clients, track_number: str) -> dict[str, Any]:
    client = clients.cdek()
    order = client.find_by_cdek_number(track_number) or client.find_order(track_number)
    statuses = ((order or {}).get("entity") or {}).get("statuses") or []
    if not statuses:
        return {"status": "unknown", "vendor_status": None}
    latest = statuses[0]  # CDEK lists the newest first
    return {
        "status": cdek_status(latest.get("code")),
        "vendor_status": latest.get("name") or latest.get("code"),
        "city": latest.get("city"),
        "at": latest.get("date_time"),
    }


def _track_nova_poshta(clients: Clients, track_number: str) -> dict[str, Any]:
    rows = clients.nova_poshta().track([(track_number, "")])
    row = rows[0] if rows else {}
    return {
        "status": NOVA_POSHTA_STATUSES.get(str(row.get("StatusCode")), "in_transit")
        if row
        else "unknown",
        "vendor_status": row.get("Status"),
        "delivery_dates": row.get("ScheduledDeliveryDate"),
    }


def _track_russian_post(clients: Clients, track_number: str) -> dict[str, Any]:
    # Tracking is [unconfirmed] in the reference: report what the backlog knows.
    if track_number.isdigit():
        try:
            clients.russian_post().get_shipment(track_number)
        except PermanentConnectorError as exc:
            if exc.status_code != 404:
                raise
        else:
            return {"status": "created", "vendor_status": "в списке отправлений"}
    return {"status": "unknown", "vendor_status": None}


def _track_nothing(clients: Clients, track_number: str) -> dict[str, Any]:
    # The shop's courier and pickup report delivery through their own task or hook.
    return {"status": "unknown", "vendor_status": None}


_TRACKERS: dict[str, Callable[[Clients, str], dict[str, Any]]] = {
    "cdek": _track_cdek,
    "russian_post": _track_russian_post,
    "nova_poshta": _track_nova_poshta,
    "courier": _track_nothing,
    "pickup": _track_nothing,
}


@operator("courier.track", inline=False)
def track(ctx: HandlerContext, carrier: str, track_number: str) -> dict[str, Any]:
    """The parcel's delivery status at the carrier, in potok's words.

    Args:
        carrier: cdek | russian_post | nova_poshta | courier | pickup.
        track_number: what create_shipment returned (CDEK number, Nova Poshta TTN …).

    Returns:
        {"status": created | in_transit | arrived | delivered | not_delivered | unknown,
        "carrier", "track_number", "vendor_status" (the carrier's own words)}.
    """
    found = _TRACKERS[_carrier(carrier)](clients_for(ctx), str(track_number or ""))
    return {"carrier": carrier, "track_number": track_number} | found
