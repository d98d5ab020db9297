"""Avito Messenger double: OAuth token, replies into chats, webhook events both ways.

Vendor behaviour kept: `POST /token` (client_credentials form) → bearer token; messages go to
`/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages` of our own account (403 for another
user id, 404 for a chat that does not exist — chats are opened by customers). Every message,
the customer's and our own, is delivered to the subscribed URLs as
`{payload: {type: "message", value: {id, chat_id, user_id, author_id, created, type,
content: {text}, item_id}}}` — our own come back with author_id == user_id.
Error body and subscribe endpoint are [unconfirmed] in the reference.
Control: `POST /_control/inbound {"author_id", "text", "chat_id"?, "item_id"?}`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Request

from connectors.avito.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_USER_ID
from connectors.sandbox_kit import (
    SandboxSettings,
    VendorStyle,
    add_token_endpoint,
    bearer_valid,
    build_app,
    emit,
    new_uuid,
    require,
)
from connectors.sandbox_store import SandboxStore

SYSTEM = "avito"
TOKEN_SECONDS = 86400


class AvitoStyle(VendorStyle):
    """`{"error": {"code", "message"}}` [unconfirmed]."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"error": {"code": status, "message": message}}


STYLE = AvitoStyle()


class Messenger:
    """The double's state operations on one store."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings

    def check_token(self, request: Request) -> None:
        if not bearer_valid(SYSTEM, self.store, request):
            raise STYLE.fail(401, "unauthorized")

    def post(self, chat_id: str, author_id: str, text: str) -> dict[str, Any]:
        chat = self.store.get(SYSTEM, "chat", chat_id)
        if chat is None:
            raise STYLE.fail(404, "chat not found")
        message_id = secrets.token_hex(16)
        message = {
            "id": message_id,
            "chat_id": chat_id,
            "author_id": author_id,
            "created": int(time.time()),
            "type": "text",
            "content": {"text": text},
            "item_id": chat.get("item_id"),
        }
        self.store.add(SYSTEM, "message", message_id, message)
        return message

    def announce(self, message: dict[str, Any]) -> None:
        """POST the message event to every subscribed URL."""
        value = message | {"user_id": int(SANDBOX_USER_ID), "chat_type": "u2i"}
        value["author_id"] = int(value["author_id"])
        event = {
            "id": new_uuid(),
            "version": "v3.0.0",
            "timestamp": message["created"],
            "payload": {"type": "message", "value": value},
        }
        for hook in self.store.records(SYSTEM, "webhook"):
            emit(
                system=SYSTEM,
                store=self.store,
                settings=self.settings,
                url=hook["url"],
                payload=event,
            )


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The Avito double, to be mounted at /sandbox/avito."""
    settings = settings or SandboxSettings()
    messenger = Messenger(store, settings)
    vendor = APIRouter()
    api = APIRouter(dependencies=[Depends(messenger.check_token)])
    control = APIRouter()
    add_token_endpoint(
        vendor,
        "/token",
        system=SYSTEM,
        store=store,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        seconds=TOKEN_SECONDS,
    )

    @api.post("/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages")
    def send(
        user_id: str, chat_id: str, background: BackgroundTasks, body: dict[str, Any] = Body(...)
    ) -> dict[str, Any]:
        if user_id != SANDBOX_USER_ID:
            raise STYLE.fail(403, "forbidden: not your account")
        require(STYLE, body, "message")
        text = str((body.get("message") or {}).get("text") or "")
        if body.get("type", "text") != "text" or not text:
            raise STYLE.fail(400, "message.text is required")
        message = messenger.post(chat_id, user_id, text)
        background.add_task(messenger.announce, message)  # Avito echoes our own message
        return {
            "id": message["id"],
            "content": {"text": text},
            "created": message["created"],
            "direction": "out",
            "type": "text",
        }

    @api.post("/messenger/v3/webhook")
    def subscribe(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "url")
        store.put(SYSTEM, "webhook", str(body["url"]), {"url": body["url"]})
        return {"ok": True}

    @control.post("/inbound")
    def inbound(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        require(STYLE, body, "author_id", "text")
        chat_id = str(body.get("chat_id") or f"u2i-{secrets.token_urlsafe(12)}")
        if store.get(SYSTEM, "chat", chat_id) is None:
            chat = {"id": chat_id, "item_id": body.get("item_id"), "author_id": body["author_id"]}
            store.add(SYSTEM, "chat", chat_id, chat)
        message = messenger.post(chat_id, str(body["author_id"]), str(body["text"]))
        messenger.announce(message)
        return message

    vendor.include_router(api)
    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
