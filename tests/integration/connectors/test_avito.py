"""Avito client against its double over real HTTP: a customer writes, we answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.avito import AvitoClient, AvitoConfig, is_own_echo
from connectors.base import PermanentConnectorError
from tests.integration.connectors.conftest import Sandbox

CUSTOMER = 777000


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[AvitoClient]:
    with AvitoClient(sandbox.config(AvitoConfig())) as client:
        yield client


def test_customer_message_and_our_reply_both_reach_the_webhook(
    client: AvitoClient, sandbox: Sandbox
) -> None:
    assert client.subscribe_webhook(sandbox.receiver("avito")) == {"ok": True}
    inbound = sandbox.control(
        "avito", "inbound", {"author_id": CUSTOMER, "text": "Фары ещё есть?", "item_id": 42}
    )
    reply = client.send_message(inbound["chat_id"], "Да, есть. Как к вам обращаться?")
    assert reply["direction"] == "out" and reply["content"]["text"].startswith("Да")
    first, echo = (item.json() for item in sandbox.wait_received("avito", 2))
    assert first["payload"]["value"]["content"]["text"] == "Фары ещё есть?"
    assert first["payload"]["value"]["item_id"] == 42
    assert not is_own_echo(first, client.config.user_id)
    assert is_own_echo(echo, client.config.user_id)
    assert len(sandbox.records("avito", "message")) == 2


def test_unknown_chat_is_permanent(client: AvitoClient) -> None:
    with pytest.raises(PermanentConnectorError) as caught:
        client.send_message("u2i-nobody", "x")
    assert (caught.value.status_code, caught.value.vendor_message) == (404, "chat not found")
