"""YooKassa, MoySklad and CDEK hooks: trusted only after the vendor confirms, deduplicated,
delivered to the process waiting for that order, "unmatched" for an order nobody waits for."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.hooks.conftest import YOOKASSA_ADDRESS, Hooks

PAYMENT = {
    "id": "2f5c0b3c-000f-5000-8000-1a2b3c4d5e6f",
    "status": "succeeded",
    "paid": True,
    "amount": {"value": "7490.00", "currency": "RUB"},
    "metadata": {"order_id": "O-1"},
}


def _outcomes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [event["outcome"] for event in response.json()["events"]]


def _notification(payment: dict[str, Any], event: str = "payment.succeeded") -> dict[str, Any]:
    return {"type": "notification", "event": event, "object": payment}


def _wait_for(hooks: Hooks, message: str, order_id: str = "O-1") -> str:
    key = message.replace("_", "")
    hooks.deploy(key, message, ("order_id",), start_on=False)
    return hooks.start(key, order_id=order_id)


# --- YooKassa -------------------------------------------------------------------------------


def test_yookassa_accepts_only_its_networks(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", PAYMENT)
    response = hooks.http.post("/hooks/yookassa", json=_notification(PAYMENT))  # "testclient"
    assert response.status_code == 403 and response.json()["error"]["code"] == "untrusted_source"
    stranger = hooks.client(("203.0.113.9", 5000)).post(
        "/hooks/yookassa", json=_notification(PAYMENT)
    )
    assert stranger.status_code == 403
    assert hooks.event_count() == 0 and hooks.vendor.requests == []


def test_yookassa_forged_payment_is_refused_after_the_refetch(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    error = {"type": "error", "code": "not_found", "description": "Payment not found"}
    hooks.vendor.on("GET", "/payments/forged", error, status=404)
    forged = PAYMENT | {"id": "forged"}
    response = hooks.client(YOOKASSA_ADDRESS).post("/hooks/yookassa", json=_notification(forged))
    assert response.status_code == 403 and response.json()["error"]["code"] == "unknown_object"
    assert hooks.event_count() == 0


def test_yookassa_same_notification_three_times_is_one_payment(hooks: Hooks) -> None:
    instance_id = _wait_for(hooks, "payment_received")
    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", PAYMENT)
    client = hooks.client(YOOKASSA_ADDRESS)
    outcomes = [
        _outcomes(client.post("/hooks/yookassa", json=_notification(PAYMENT)))[0] for _ in range(3)
    ]
    assert outcomes == ["delivered", "duplicate", "duplicate"]
    (instance,) = hooks.instances("paymentreceived")
    assert instance.id == instance_id and instance.status == "completed"
    assert instance.variables["reply"] | {"order_id": "O-1"} == {
        "order_id": "O-1",
        "amount": "7490.00",
        "currency": "RUB",
        "payment_id": PAYMENT["id"],
        "status": "succeeded",
    }
    assert len(hooks.vendor.calls("GET", f"/payments/{PAYMENT['id']}")) == 3


def test_yookassa_trusts_the_refetched_status_not_the_body(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", PAYMENT | {"status": "pending"})
    response = hooks.client(YOOKASSA_ADDRESS).post("/hooks/yookassa", json=_notification(PAYMENT))
    assert _outcomes(response) == ["ignored"]
    (instance,) = hooks.instances("paymentreceived")
    assert instance.status == "waiting"


def test_yookassa_payment_for_an_unknown_order_is_kept_unmatched(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    stray = PAYMENT | {"id": "p-2", "metadata": {"order_id": "O-404"}}
    hooks.vendor.on("GET", "/payments/p-2", stray)
    response = hooks.client(YOOKASSA_ADDRESS).post("/hooks/yookassa", json=_notification(stray))
    assert _outcomes(response) == ["unmatched"]
    (event,) = hooks.events("yookassa")
    assert event.external_id == "p-2:succeeded"
    assert event.payload["correlation"] == {"order_id": "O-404"}


def test_yookassa_down_means_retry_later_and_nothing_recorded(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    hooks.vendor.fail(500, {"type": "error", "code": "internal_server_error"})
    client = hooks.client(YOOKASSA_ADDRESS)
    down = client.post("/hooks/yookassa", json=_notification(PAYMENT))
    assert down.status_code == 503 and hooks.event_count() == 0
    hooks.vendor.failure = None
    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", PAYMENT)
    assert _outcomes(client.post("/hooks/yookassa", json=_notification(PAYMENT))) == ["delivered"]


def test_yookassa_from_the_loopback_outside_production(hooks: Hooks) -> None:
    _wait_for(hooks, "payment_received")
    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", PAYMENT)
    local = hooks.client(("127.0.0.1", 5000)).post("/hooks/yookassa", json=_notification(PAYMENT))
    assert _outcomes(local) == ["delivered"]


# --- MoySklad -------------------------------------------------------------------------------

BASE = "http://127.0.0.1:8000/sandbox/moysklad/api/remap/1.2"
STATES = {
    "states": [
        {"meta": {"href": f"{BASE}/entity/customerorder/metadata/states/S1"}, "name": "Новый"},
        {"meta": {"href": f"{BASE}/entity/customerorder/metadata/states/S4"}, "name": "Отгружен"},
    ]
}


def _moysklad_body(order_id: str, kind: str = "customerorder") -> dict[str, Any]:
    return {
        "auditContext": {
            "meta": {"type": "audit", "href": f"{BASE}/audit/A1"},
            "uid": "admin@shop",
            "moment": "2026-01-01 10:00:00",
        },
        "events": [
            {
                "meta": {"type": kind, "href": f"{BASE}/entity/{kind}/{order_id}"},
                "action": "UPDATE",
                "accountId": "acc",
                "updatedFields": ["state"],
            }
        ],
    }


def _moysklad_vendor(hooks: Hooks) -> None:
    hooks.vendor.on("GET", "/entity/customerorder/metadata", STATES)
    order = {
        "id": "O-1",
        "name": "00017",
        "state": {"meta": {"href": f"{BASE}/entity/customerorder/metadata/states/S4"}},
    }
    hooks.vendor.on("GET", "/entity/customerorder/O-1", order)
    hooks.vendor.on("GET", "/entity/customerorder/O-404", order | {"id": "O-404"})


def test_moysklad_needs_its_token_and_request_id(hooks: Hooks) -> None:
    _wait_for(hooks, "order_status")
    body = _moysklad_body("O-1")
    assert hooks.http.post("/hooks/moysklad?requestId=r1", json=body).status_code == 403
    token = "token=development-moysklad-token"
    assert hooks.http.post(f"/hooks/moysklad?{token}", json=body).status_code == 400
    assert hooks.event_count() == 0


def test_moysklad_same_request_three_times_is_one_status(hooks: Hooks) -> None:
    _wait_for(hooks, "order_status")
    _moysklad_vendor(hooks)
    url = "/hooks/moysklad?token=development-moysklad-token&requestId=r-1"
    outcomes = [_outcomes(hooks.http.post(url, json=_moysklad_body("O-1")))[0] for _ in range(3)]
    assert outcomes == ["delivered", "duplicate", "duplicate"]
    (instance,) = hooks.instances("orderstatus")
    assert instance.variables["reply"]["state"] == "Отгружен"
    assert instance.variables["reply"]["number"] == "00017"
    other = "/hooks/moysklad?token=development-moysklad-token&requestId=r-2"
    assert _outcomes(hooks.http.post(other, json=_moysklad_body("O-404"))) == ["unmatched"]
    assert _outcomes(
        hooks.http.post(
            "/hooks/moysklad?token=development-moysklad-token&requestId=r-3",
            json=_moysklad_body("D-1", kind="demand"),
        )
    ) == ["ignored"]


# --- CDEK -----------------------------------------------------------------------------------


def _cdek_body(number: str, code: str = "DELIVERED", status_code: str = "4") -> dict[str, Any]:
    uuid = "72753031-0e1f-4f5c-a2ab-6d7d1c6f5a1b" if number == "O-1" else f"uuid-{number}"
    return {
        "type": "ORDER_STATUS",
        "date_time": "2026-01-05T12:00:00+0300",
        "uuid": uuid,
        "attributes": {
            "is_return": False,
            "cdek_number": "1106000001",
            "number": number,
            "code": code,
            "status_code": status_code,
            "status_date_time": "2026-01-05T12:00:00+0300",
            "city_name": "Новосибирск",
        },
    }


def test_cdek_token_dedupe_and_unmatched(hooks: Hooks) -> None:
    _wait_for(hooks, "shipment_status")
    assert hooks.http.post("/hooks/cdek?token=x", json=_cdek_body("O-1")).status_code == 403
    assert hooks.event_count() == 0
    url = "/hooks/cdek?token=development-cdek-token"
    outcomes = [_outcomes(hooks.http.post(url, json=_cdek_body("O-1")))[0] for _ in range(3)]
    assert outcomes == ["delivered", "duplicate", "duplicate"]
    (instance,) = hooks.instances("shipmentstatus")
    reply = instance.variables["reply"]
    assert (reply["status"], reply["track_number"], reply["carrier"]) == (
        "delivered",
        "1106000001",
        "cdek",
    )
    assert _outcomes(hooks.http.post(url, json=_cdek_body("O-404"))) == ["unmatched"]


def test_malformed_bodies_are_400_and_record_nothing(hooks: Hooks) -> None:
    url = "/hooks/cdek?token=development-cdek-token"
    assert hooks.http.post(url, content=b"not json").status_code == 400
    assert hooks.http.post(url, json=[1, 2]).status_code == 400
    assert hooks.http.post(url, json={"type": "ORDER_STATUS"}).status_code == 400
    client = hooks.client(YOOKASSA_ADDRESS)
    assert client.post("/hooks/yookassa", json={"event": "payment.succeeded"}).status_code == 400
    assert hooks.event_count() == 0


def test_a_dropped_connection_to_yookassa_is_a_503(hooks: Hooks) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    hooks.vendor.on("GET", f"/payments/{PAYMENT['id']}", refuse)
    response = hooks.client(YOOKASSA_ADDRESS).post("/hooks/yookassa", json=_notification(PAYMENT))
    assert response.status_code == 503 and hooks.event_count() == 0
