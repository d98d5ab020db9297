"""The customer simulator at /demo (never in production): a person plays the shop's customer.

They write as if on Telegram, WhatsApp or the site chat — through the doubles' own "customer"
controls (`/sandbox/telegram/_control/message`, `/sandbox/whatsapp/_control/inbound`), which
POST to our real `/hooks/*` with the vendor's secret header or signature, or, for the site
chat, a body signed like the widget backend's — and read what the shop answered from the
doubles' state: the bot's messages (with the payment link that opens the YooKassa double's
checkout), WhatsApp texts, site-chat replies, and every SMS to their phone.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.web.templating import render
from connectors.sandbox_store import SandboxRecord, SandboxStore
from handlers.clients import current_clients, sign

router = APIRouter(prefix="/demo")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "demo"
CHANNELS = ("telegram", "whatsapp", "site_chat")
MAX_TEXT = 2000
SITE_CHAT = "site_chat_demo"  # where the stand-in widget backend keeps the conversation


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _customers_bot_id() -> str:
    settings = current_clients().settings
    bot = settings.telegram.bots[settings.telegram_customer_bot]
    return bot.token.get_secret_value().split(":", 1)[0]


@router.get("")
def simulator(request: Request) -> Response:
    """The simulator page."""
    reply_url = current_clients().settings.site_chat.reply_url or ""
    return render(
        request,
        "demo/simulator.html",
        site_chat_ready=reply_url.endswith("/demo/site-chat/reply"),
        reply_url=str(request.base_url).rstrip("/") + "/demo/site-chat/reply",
    )


@router.get("/simulator.js")
def simulator_script() -> Response:
    """The page's script (served here: it belongs to the demo, not to the app's bundles)."""
    script = (TEMPLATES / "simulator.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript; charset=utf-8")


def _post(url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(url, **kwargs)


@router.post("/say")
def say(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """The customer writes `text` on `channel` as `contact` (and `name`, `phone`)."""
    channel = str(body.get("channel") or "")
    contact = str(body.get("contact") or "").strip()[:64]
    text = str(body.get("text") or "").strip()[:MAX_TEXT]
    name = str(body.get("name") or contact).strip()[:100]
    if channel not in CHANNELS or not contact or not text:
        return JSONResponse({"ok": False, "error": "channel, contact and text"}, status_code=422)
    root = str(request.base_url).rstrip("/")
    if channel == "telegram":
        if not contact.isdigit():
            return JSONResponse({"ok": False, "error": "a Telegram chat id is digits"}, 422)
        answer = _post(
            f"{root}/sandbox/telegram/_control/message",
            json={
                "bot": _customers_bot_id(),
                "chat_id": contact,
                "text": text,
                "from": {"first_name": name},
            },
        )
    elif channel == "whatsapp":
        answer = _post(
            f"{root}/sandbox/whatsapp/_control/inbound",
            json={"from": _digits(contact), "text": text, "name": name},
        )
    else:
        message = {"id": str(uuid.uuid4()), "visitor_id": contact, "text": text, "name": name}
        if body.get("phone"):
            message["phone"] = str(body["phone"])[:30]
        SandboxStore(_factory(request)).add(SITE_CHAT, "visitor", message["id"], message)
        raw = json.dumps(message, ensure_ascii=False).encode()
        secret = current_clients().settings.site_chat.secret.get_secret_value()
        answer = _post(
            f"{root}/hooks/site-chat",
            content=raw,
            headers={"Content-Type": "application/json", "X-Potok-Signature": sign(secret, raw)},
        )
    return JSONResponse({"ok": answer.status_code < 300, "status": answer.status_code})


@router.post("/site-chat/reply")
async def site_chat_reply(request: Request) -> JSONResponse:
    """A stand-in for the shop's site-chat widget backend: keeps our signed replies."""
    raw = await request.body()
    secret = current_clients().settings.site_chat.secret.get_secret_value()
    given = request.headers.get("x-potok-signature") or ""
    if not hmac.compare_digest(given.encode(), sign(secret, raw).encode()):
        return JSONResponse({"ok": False}, status_code=403)
    reply = json.loads(raw)
    SandboxStore(_factory(request)).add(SITE_CHAT, "reply", str(reply.get("message_id")), reply)
    return JSONResponse({"ok": True})


def _records(factory: sessionmaker[Session], system: str, kinds: tuple[str, ...]) -> list[Any]:
    with factory() as session:
        stmt = (
            select(SandboxRecord.kind, SandboxRecord.data, SandboxRecord.created_at)
            .where(SandboxRecord.system == system, SandboxRecord.kind.in_(kinds))
            .order_by(SandboxRecord.id)
        )
        return list(session.execute(stmt).all())


def _telegram(factory: sessionmaker[Session], chat: str) -> list[dict[str, Any]]:
    bot = _customers_bot_id()
    feed = []
    for kind, data, at in _records(factory, "telegram", ("update", "message")):
        if str(data.get("bot_id")) != bot:
            continue
        if kind == "update":
            message = data.get("message") or {}
            if str((message.get("chat") or {}).get("id")) == chat:
                feed.append({"from": "me", "text": message.get("text") or "", "at": at})
        elif str(data.get("chat_id")) == chat:
            feed.append({"from": "shop", "text": data.get("text") or "", "at": at})
    return feed


def _whatsapp(factory: sessionmaker[Session], wa_id: str) -> list[dict[str, Any]]:
    feed = []
    for kind, data, at in _records(factory, "whatsapp", ("inbound", "message")):
        if kind == "inbound" and data.get("from") == wa_id:
            feed.append({"from": "me", "text": (data.get("text") or {}).get("body", ""), "at": at})
        elif kind == "message" and data.get("to") == wa_id:
            text = (data.get("text") or {}).get("body") or f"[{data.get('type')}]"
            feed.append({"from": "shop", "text": text, "at": at})
    return feed


def _site_chat(factory: sessionmaker[Session], visitor: str) -> list[dict[str, Any]]:
    feed = []
    for kind, data, at in _records(factory, SITE_CHAT, ("visitor", "reply")):
        if kind == "visitor" and data.get("visitor_id") == visitor:
            feed.append({"from": "me", "text": data.get("text") or "", "at": at})
        elif kind == "reply" and data.get("contact") == visitor:
            feed.append({"from": "shop", "text": data.get("text") or "", "at": at})
    return feed


@router.get("/feed")
def feed(request: Request, channel: str = "", contact: str = "", phone: str = "") -> Any:
    """The conversation on `channel` with `contact`, and the SMS the shop sent to `phone`."""
    factory = _factory(request)
    messages: list[dict[str, Any]] = []
    if channel == "telegram" and contact:
        messages = _telegram(factory, contact)
    elif channel == "whatsapp" and contact:
        messages = _whatsapp(factory, _digits(contact))
    elif channel == "site_chat" and contact:
        messages = _site_chat(factory, contact)
    wanted = _digits(phone)
    sms = [
        {"text": data.get("text") or "", "at": at, "phone": data.get("phone")}
        for _kind, data, at in _records(factory, "sms", ("sms",))
        if wanted and _digits(data.get("phone")) == wanted
    ]
    for item in [*messages, *sms]:
        at = item.get("at")
        if isinstance(at, datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # SQLite hands the doubles' UTC times back naive
        item["at"] = at.isoformat() if isinstance(at, datetime) else None
    return {"messages": messages, "sms": sms}
