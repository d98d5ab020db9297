"""CDEK client on the wire: OAuth token reuse and refresh, lookup before create, polling."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import PermanentConnectorError, TransientConnectorError
from connectors.cdek import CdekClient, CdekConfig
from tests.unit.connectors.contract import Contract, FakeVendor, Handler, contract_test

BASE = "https://api.edu.cdek.ru/v2"
CONFIG = CdekConfig(base_url=BASE, poll_interval=0.0, max_polls=3)
TOKEN = {"access_token": "t-1", "token_type": "bearer", "expires_in": 3600}
ORDER = {"number": "42", "tariff_code": 136, "recipient": {"name": "Иван", "phones": []}}


def cdek_error(message: str) -> dict[str, Any]:
    return {"requests": [{"state": "INVALID", "errors": [{"code": "v2_bad", "message": message}]}]}


def with_token(handler: Handler) -> Handler:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    return serve


def make(transport: httpx.BaseTransport) -> CdekClient:
    return CdekClient(CONFIG, transport=transport, sleep=lambda seconds: None)


def registered(state: str, cdek_number: str | None = "1106000001") -> dict[str, Any]:
    entity: dict[str, Any] = {"uuid": "u-1", "number": "42", "cdek_number": cdek_number}
    return {"entity": entity | {"statuses": []}, "requests": [{"type": "CREATE", "state": state}]}


LOCATIONS = {"from_location": {"code": 44}, "to_location": {"code": 137}}

test_contract = contract_test(
    Contract(
        name="calculate_tariff",
        make=make,
        call=lambda c: c.calculate_tariff(tariff_code=136, packages=[{"weight": 900}], **LOCATIONS),
        ok={"delivery_sum": 310.0, "period_min": 3, "period_max": 5, "total_sum": 310.0},
        error=cdek_error,
        check=lambda tariff: tariff["total_sum"] == 310.0,
        wrap=with_token,
    ),
    Contract(
        name="get_order",
        make=make,
        call=lambda c: c.get_order("u-1"),
        ok=registered("SUCCESSFUL"),
        error=cdek_error,
        check=lambda order: order["entity"]["cdek_number"] == "1106000001",
        wrap=with_token,
    ),
)


def test_token_is_fetched_once_and_sent_as_bearer() -> None:
    vendor = FakeVendor({"POST /oauth/token": TOKEN, "GET /orders/u-1": registered("SUCCESSFUL")})
    with make(vendor.transport()) as client:
        client.get_order("u-1")
        client.get_order("u-1")
    assert vendor.paths().count("POST /v2/oauth/token") == 1
    form = dict(httpx.QueryParams(vendor.requests[0].content.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "sandbox-cdek-client",
        "client_secret": "sandbox-cdek-secret",
    }
    assert vendor.requests[-1].headers["Authorization"] == "Bearer t-1"


def test_a_401_with_a_cached_token_refreshes_once() -> None:
    tokens = iter(["t-1", "t-2", "t-3"])
    answers = iter([200, 401, 200, 401, 401])

    def order(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json=registered("SUCCESSFUL"))

    def token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=TOKEN | {"access_token": next(tokens)})

    vendor = FakeVendor({"POST /oauth/token": token, "GET /orders/u-1": order})
    with make(vendor.transport()) as client:
        client.get_order("u-1")  # t-1
        client.get_order("u-1")  # 401 → t-2 → 200
        with pytest.raises(PermanentConnectorError) as caught:
            client.get_order("u-1")  # 401 → t-3 → 401: no loop
    assert caught.value.status_code == 401
    assert vendor.paths().count("POST /v2/oauth/token") == 3
    assert vendor.requests[-1].headers["Authorization"] == "Bearer t-3"


def test_bad_credentials_are_permanent_with_the_oauth_text() -> None:
    refused = (401, {"error": "invalid_client", "error_description": "Bad credentials"})
    vendor = FakeVendor({"POST /oauth/token": refused})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.get_order("u-1")
    assert caught.value.vendor_message == "Bad credentials"
    assert vendor.paths() == ["POST /v2/oauth/token"]


def test_token_answer_without_access_token_is_transient() -> None:
    vendor = FakeVendor({"POST /oauth/token": {"token_type": "bearer"}})
    with make(vendor.transport()) as client, pytest.raises(TransientConnectorError):
        client.get_order("u-1")


def test_create_looks_up_im_number_then_polls_until_registered() -> None:
    polls = iter([registered("ACCEPTED", None), registered("SUCCESSFUL")])
    vendor = FakeVendor(
        {
            "POST /oauth/token": TOKEN,
            "GET /v2/orders": (404, cdek_error("not found")),
            "POST /v2/orders": (202, registered("ACCEPTED", None)),
            "GET /orders/u-1": lambda request: httpx.Response(200, json=next(polls)),
        }
    )
    with make(vendor.transport()) as client:
        order = client.create_order(ORDER)
    assert order["entity"]["cdek_number"] == "1106000001"
    assert vendor.requests[1].url.params["im_number"] == "42"
    assert vendor.paths()[2:] == ["POST /v2/orders", "GET /v2/orders/u-1", "GET /v2/orders/u-1"]


def test_create_reuses_an_order_found_by_im_number() -> None:
    vendor = FakeVendor(
        {
            "POST /oauth/token": TOKEN,
            "GET /v2/orders": registered("SUCCESSFUL"),
            "GET /orders/u-1": registered("SUCCESSFUL"),
        }
    )
    with make(vendor.transport()) as client:
        client.create_order(ORDER)
    assert "POST /v2/orders" not in vendor.paths()


def test_rejected_registration_is_permanent_and_still_processing_transient() -> None:
    rejected = registered("INVALID", None)
    rejected["requests"][0]["errors"] = [{"code": "v2_phones", "message": "Phones are empty"}]
    vendor = FakeVendor({"POST /oauth/token": TOKEN, "GET /orders/u-1": rejected})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError) as caught:
        client.wait_until_registered("u-1")
    assert caught.value.vendor_message == "Phones are empty"
    slow = FakeVendor({"POST /oauth/token": TOKEN, "GET /orders/u-1": registered("ACCEPTED")})
    with make(slow.transport()) as client, pytest.raises(TransientConnectorError):
        client.wait_until_registered("u-1")
    assert slow.paths().count("GET /v2/orders/u-1") == 3


def test_order_without_number_is_refused_before_any_call() -> None:
    vendor = FakeVendor({})
    with make(vendor.transport()) as client, pytest.raises(PermanentConnectorError):
        client.create_order({"tariff_code": 136})
    assert vendor.requests == []
