"""WhatsApp Cloud API double: messages, the 24 h window, and signed webhooks back.

Vendor behaviour kept: Bearer token (401, OAuthException code 190), the phone number id
in the path, `messaging_product: "whatsapp"` required (code 100), templates must be approved
(code 132001), at most three reply buttons. An accepted message answers
`{messaging_product, contacts: [{input, wa_id}], messages: [{id: "wamid…"}]}`; then status
webhooks follow: `sent` and `delivered`, or `failed` with code 131047 when a free-form message
went to someone who has not written within 24 hours.
Webhooks are POSTed to `SandboxSettings.webhook_url` (or `POST /_control/webhook`), signed
`X-Hub-Signature-256` with the sandbox app secret.
Control: `POST /_control/inbound {"from", "text", "name"}` (a customer writes — also opens the
24 h window), `POST /_control/templates {"name", "language"}` (approve a template),
`POST /_control/verify {"url"}` (Meta's GET handshake against a webhook URL).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Request

from connectors.sandbox_kit import (
    SandboxSettings,
    VendorStyle,
    build_app,
    emit,
    webhook_url,
)
from connectors.sandbox_store import SandboxStore
from connectors.whatsapp.client import MAX_BUTTONS, sign_body
from connectors.whatsapp.config import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_SECRET,
    SANDBOX_PHONE_NUMBER_ID,
    SANDBOX_VERIFY_TOKEN,
)

SYSTEM = "whatsapp"
WABA_ID = "200000000000001"
DISPLAY_NUMBER = "79000000001"
WINDOW_SECONDS = 24 * 3600
APPROVED = {
    ("hello_world", "en_US"),
    ("payment_link", "ru"),
    ("order_shipped", "ru"),
    ("review_request", "ru"),
}


class WhatsAppStyle(VendorStyle):
    """Graph API's `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        kind = "OAuthException" if status in (400, 401, 403, 404) else "GraphMethodException"
        number = int(code) if code and code.isdigit() else (130429 if status == 429 else 1)
        return {
            "error": {
                "message": message,
                "type": kind,
                "code": number,
                "fbtrace_id": secrets.token_urlsafe(12),
            }
        }


STYLE = WhatsAppStyle()


def _check_auth(request: Request) -> None:
    if request.headers.get("authorization") != f"Bearer {SANDBOX_ACCESS_TOKEN}":
        raise STYLE.fail(401, "Invalid OAuth access token - Cannot parse access token", "190")


def _wamid() -> str:
    return "wamid." + base64.b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")


class Business:
    """The double's state operations on one store."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings

    def validate(self, body: dict[str, Any]) -> str:
        if body.get("messaging_product") != "whatsapp":
            raise STYLE.fail(400, "(#100) The parameter messaging_product is required.", "100")
        to = str(body.get("to") or "")
        if not to.isdigit() or not 10 <= len(to) <= 15:
            raise STYLE.fail(400, "(#100) Invalid parameter: to", "100")
        kind = body.get("type", "text")
        content = body.get(kind)
        if kind not in ("text", "template", "interactive") or not isinstance(content, dict):
            raise STYLE.fail(400, f"(#100) Param {kind} is required", "100")
        if kind == "text" and not content.get("body"):
            raise STYLE.fail(400, "(#100) Param text['body'] is required", "100")
        if kind == "template":
            self.check_template(content)
        if kind == "interactive":
            buttons = (content.get("action") or {}).get("buttons") or []
            if not 1 <= len(buttons) <= MAX_BUTTONS:
                raise STYLE.fail(400, "(#131009) Parameter value is not valid: buttons", "131009")
        return str(kind)

    def check_template(self, template: dict[str, Any]) -> None:
        key = (str(template.get("name")), str((template.get("language") or {}).get("code")))
        approved = APPROVED | {
            (t["name"], t["language"]) for t in self.store.records(SYSTEM, "template")
        }
        if key not in approved:
            raise STYLE.fail(
                404,
                f"(#132001) Template name does not exist in the translation: {key[0]} ({key[1]})",
                "132001",
            )

    def in_window(self, wa_id: str) -> bool:
        contact = self.store.get(SYSTEM, "contact", wa_id)
        return contact is not None and time.time() - contact["last_inbound"] < WINDOW_SECONDS

    def payload(self, value: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            "display_phone_number": DISPLAY_NUMBER,
            "phone_number_id": SANDBOX_PHONE_NUMBER_ID,
        }
        change = {
            "value": {"messaging_product": "whatsapp", "metadata": metadata} | value,
            "field": "messages",
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [change]}],
        }

    def notify(self, value: dict[str, Any]) -> dict[str, Any] | None:
        """POST a signed webhook to the configured URL."""
        url = webhook_url(SYSTEM, self.store, self.settings)
        if not url:
            return None
        payload = self.payload(value)
        raw = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_body(SANDBOX_APP_SECRET, raw),
        }
        return emit(
            system=SYSTEM,
            store=self.store,
            settings=self.settings,
            url=url,
            payload=payload,
            headers=headers,
            content=raw,
        )

    def statuses(self, message: dict[str, Any]) -> None:
        """What Meta reports after accepting a message."""
        now = str(int(time.time()))
        base = {"id": message["id"], "timestamp": now, "recipient_id": message["to"]}
        if message["status"] == "failed":
            error = {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {
                    "details": "Message failed to send because more than 24 hours have passed "
                    "since the customer last replied to this number."
                },
            }
            self.notify({"statuses": [base | {"status": "failed", "errors": [error]}]})
            return
        for status in ("sent", "delivered"):
            self.store.put(SYSTEM, "message", message["id"], message | {"status": status})
            self.notify({"statuses": [base | {"status": status}]})


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The WhatsApp double, to be mounted at /sandbox/whatsapp."""
    settings = settings or SandboxSettings()
    business = Business(store, settings)
    vendor = APIRouter(dependencies=[Depends(_check_auth)])
    control = APIRouter()

    @vendor.post("/{version}/{phone_number_id}/messages")
    def send(
        version: str,
        phone_number_id: str,
        background: BackgroundTasks,
        body: dict[str, Any] = Body(...),
    ) -> dict[str, Any]:
        if phone_number_id != SANDBOX_PHONE_NUMBER_ID:
            raise STYLE.fail(
                400,
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist",
                "100",
            )
        kind = business.validate(body)
        to = str(body["to"])
        free_form = kind != "template"
        status = "failed" if free_form and not business.in_window(to) else "accepted"
        message = {
            "id": _wamid(),
            "to": to,
            "type": kind,
            kind: body[kind],
            "status": status,
            "timestamp": int(time.time()),
        }
        store.add(SYSTEM, "message", message["id"], message)
        background.add_task(business.statuses, message)
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": message["id"]}],
        }

    @control.post("/inbound")
    def inbound(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        sender = "".join(ch for ch in str(body.get("from", "")) if ch.isdigit())
        if not sender:
            raise STYLE.fail(400, "from is required")
        store.put(SYSTEM, "contact", sender, {"wa_id": sender, "last_inbound": time.time()})
        wamid = _wamid()
        message: dict[str, Any] = {
            "from": sender,
            "id": wamid,
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": str(body.get("text", ""))},
        }
        store.add(SYSTEM, "inbound", wamid, message)
        contact = {"profile": {"name": str(body.get("name") or sender)}, "wa_id": sender}
        delivery = business.notify({"contacts": [contact], "messages": [message]})
        return {"message": message, "delivery": delivery}

    @control.post("/templates")
    def approve(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        template = {"name": str(body.get("name")), "language": str(body.get("language", "ru"))}
        store.put(SYSTEM, "template", f"{template['name']}:{template['language']}", template)
        return template

    @control.post("/verify")
    def verify(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        challenge = secrets.token_hex(8)
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": SANDBOX_VERIFY_TOKEN,
            "hub.challenge": challenge,
        }
        try:
            response = httpx.get(
                str(body.get("url")), params=params, timeout=settings.webhook_timeout
            )
        except httpx.HTTPError as exc:
            return {"verified": False, "error": str(exc)}
        return {
            "verified": response.status_code == 200 and response.text == challenge,
            "status_code": response.status_code,
        }

    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
