"""Every vendor route of every double answers malformed input with a 4xx, never a 500."""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi.routing import APIRoute

from connectors.sandbox_kit import SandboxSettings
from connectors.sandbox_store import SandboxStore
from connectors.sandboxes import SANDBOXES
from tests.integration.connectors.conftest import Sandbox

BASIC = base64.b64encode(b"100500:test_sandbox_secret_key").decode()
POST_USER = base64.b64encode(b"shop@sandbox:sandbox-password").decode()
HEADERS = {
    "moysklad": {"Authorization": "Bearer sandbox-moysklad-token", "Accept-Encoding": "gzip"},
    "yookassa": {"Authorization": f"Basic {BASIC}", "Idempotence-Key": "k"},
    "whatsapp": {"Authorization": "Bearer sandbox-whatsapp-access-token"},
    "russian_post": {
        "Authorization": "AccessToken sandbox-pochta-token",
        "X-User-Authorization": f"Basic {POST_USER}",
    },
}
TOKEN_URLS = {
    "cdek": ("/v2/oauth/token", "sandbox-cdek-client", "sandbox-cdek-secret"),
    "avito": ("/token", "sandbox-avito-client", "sandbox-avito-secret"),
}
# Wrong types everywhere a double reads a value, plus bodies that are not objects at all.
WRONG_TYPES = (
    b'{"quantity": "many", "positions": [{"assortment": 5, "quantity": "x"}],'
    b' "amount": {"value": "x"}, "to": 5, "chat_id": {"a": 1}, "text": 5, "type": "x",'
    b' "packages": "x", "tariff_code": "x", "recipient": 1, "mass": "x", "index-to": 1,'
    b' "apiKey": "sandbox-novaposhta-key", "modelName": "InternetDocument",'
    b' "calledMethod": "save", "methodProperties": {"Weight": "x", "DateTime": "x"},'
    b' "message": "x", "url": 5, "action": "CREATE", "entityType": 1,'
    b' "customerOrder": {"meta": "x"}, "operations": ["x"], "payment_id": 5,'
    b' "organization": {"meta": {"href": "x"}}, "agent": 1, "sum": "x", "name": 1}'
)
BODIES = [b"", b"not json", b"[]", b'"text"', b"{}", WRONG_TYPES]


def vendor_calls(system: str) -> list[tuple[str, str]]:
    """(method, path) of the double's vendor routes, path parameters filled with junk."""
    app = SANDBOXES[system](SandboxStore(None), SandboxSettings())  # type: ignore[arg-type]
    calls = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith(("/_control", "/checkout")):
            continue
        path = route.path.replace("{token}", "700000001:sandbox-managers-bot-token")
        path = path.replace("{method}", "sendMessage").replace("{", "").replace("}", "")
        calls += [(method, path) for method in sorted(route.methods or ())]
    return calls


def headers_for(sandbox: Sandbox, system: str) -> dict[str, str]:
    if system not in TOKEN_URLS:
        return dict(HEADERS.get(system, {}))
    path, client_id, secret = TOKEN_URLS[system]
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    token = httpx.post(f"{sandbox.root}/{system}{path}", data=form).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("system", sorted(SANDBOXES))
def test_malformed_bodies_get_a_vendor_4xx_or_refusal(sandbox: Sandbox, system: str) -> None:
    headers = headers_for(sandbox, system) | {"Content-Type": "application/json"}
    failures = []
    with httpx.Client(base_url=f"{sandbox.root}/{system}", headers=headers) as http:
        for method, path in vendor_calls(system):
            for body in BODIES:
                response = http.request(method, path, content=body)
                if response.status_code >= 500:
                    failures.append(f"{method} {path} {body[:20]!r}: {response.text[:120]}")
    assert failures == []


MS = "http://x/api/remap/1.2/entity"
MS_ORDER = {
    "organization": {"meta": {"href": f"{MS}/organization/0b4f3b26-0000-4000-8000-000000000001"}},
    "agent": {"meta": {"href": f"{MS}/counterparty/0b4f3b26-0000-4000-8000-000000000003"}},
}
PRODUCT = {"meta": {"href": f"{MS}/product/0b4f3b26-0000-4000-8000-000000000201"}}
NP_WAYBILL = dict.fromkeys(
    ("PayerType", "PaymentMethod", "CargoType", "ServiceType", "SeatsAmount", "Description",
     "Cost", "CitySender", "Sender", "SenderAddress", "ContactSender", "SendersPhone",
     "CityRecipient", "Recipient", "RecipientAddress", "ContactRecipient", "RecipientsPhone"),
    "1",
) | {"DateTime": "01.06.2025", "Weight": "heavy"}  # fmt: skip
TG = "/bot700000001:sandbox-managers-bot-token"
NP = {"apiKey": "sandbox-novaposhta-key"}
# Bodies valid up to one deep value of the wrong type: (system, path, JSON body).
DEEP = [
    ("moysklad", "/api/remap/1.2/entity/customerorder",
     MS_ORDER | {"positions": [{"assortment": PRODUCT, "quantity": "many"}]}),
    ("moysklad", "/api/remap/1.2/entity/customerorder",
     MS_ORDER | {"positions": [{"assortment": PRODUCT, "quantity": 1, "price": "cheap"}]}),
    ("cdek", "/v2/calculator/tariff",
     {"tariff_code": 1, "from_location": {"a": 1}, "to_location": {"a": 1}, "packages": "x"}),
    ("russian_post", "/1.0/tariff", {"index-from": "1", "index-to": "1", "mass": "x",
                                      "mail-category": "ORDINARY", "mail-type": "EMS"}),
    ("telegram", f"{TG}/sendMessage", {"chat_id": 1, "text": "x", "reply_markup": "{bad"}),
    ("telegram", f"{TG}/sendMessage",
     {"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [["x"]]}}),
    ("telegram", f"{TG}/setWebhook", {"url": "http://x", "allowed_updates": "{bad"}),
    ("nova_poshta", "/v2.0/json/", NP | {"modelName": "InternetDocument",
                                         "calledMethod": "save", "methodProperties": NP_WAYBILL}),
    ("nova_poshta", "/v2.0/json/", NP | {"modelName": "Address", "calledMethod": "getWarehouses",
                                         "methodProperties": {"Page": "first"}}),
    ("nova_poshta", "/v2.0/json/", NP | {"modelName": "TrackingDocument",
                                         "calledMethod": "getStatusDocuments",
                                         "methodProperties": {"Documents": ["x"]}}),
]  # fmt: skip


@pytest.mark.parametrize(("system", "path", "body"), DEEP, ids=lambda v: str(v)[:40])
def test_a_wrong_type_deep_in_a_valid_body_is_a_vendor_refusal(
    sandbox: Sandbox, system: str, path: str, body: object
) -> None:
    headers = headers_for(sandbox, system)
    response = httpx.post(f"{sandbox.root}/{system}{path}", json=body, headers=headers)
    assert response.status_code in (200, 400), response.text
    text = response.text
    assert "Bad request" in text or "Bad Request" in text or "Invalid request" in text
