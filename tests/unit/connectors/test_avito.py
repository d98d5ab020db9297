"""Avito client on the wire: token, message body, error shapes, own-echo filter."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.avito import AvitoClient, AvitoConfig, is_own_echo
from tests.unit.connectors.contract import Contract, FakeVendor, Handler, contract_test

CONFIG = AvitoConfig(base_url="https://api.avito.ru", user_id="42")
TOKEN = {"access_token": "av-1", "token_type": "Bearer", "expires_in": 86400}
SENT = {"id": "m1", "content": {"text": "Здравствуйте"}, "created": 1, "direction": "out"}


def with_token(handler: Handler) -> Handler:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    return serve


def make(transport: httpx.BaseTransport) -> AvitoClient:
    return AvitoClient(CONFIG, transport=transport)


def avito_error(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message}}


test_contract = contract_test(
    Contract(
        name="send_message",
        make=make,
        call=lambda c: c.send_message("u2i-abc", "Здравствуйте"),
        ok=SENT,
        error=avito_error,
        check=lambda sent: sent["direction"] == "out",
        wrap=with_token,
    ),
)


def test_send_posts_text_to_our_accounts_chat_with_bearer() -> None:
    vendor = FakeVendor(
        {"POST /token": TOKEN, "POST /messages": SENT, "POST /webhook": {"ok": True}}
    )
    with make(vendor.transport()) as client:
        client.send_message("u2i-abc", "Здравствуйте")
        client.subscribe_webhook("https://shop.example/hooks/avito")
    send = vendor.requests[1]
    assert send.url.path == "/messenger/v1/accounts/42/chats/u2i-abc/messages"
    assert send.headers["Authorization"] == "Bearer av-1"
    assert vendor.body(1) == {"message": {"text": "Здравствуйте"}, "type": "text"}
    assert vendor.requests[2].url.path == "/messenger/v3/webhook"


def test_own_echo() -> None:
    ours = {"payload": {"type": "message", "value": {"author_id": 42, "user_id": 42}}}
    theirs = {"payload": {"type": "message", "value": {"author_id": 7, "user_id": 42}}}
    assert is_own_echo(ours, "42")
    assert not is_own_echo(theirs, "42")
    assert not is_own_echo({}, "42")
