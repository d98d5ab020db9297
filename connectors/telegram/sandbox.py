"""Telegram double: the Bot API for several bots, and the updates Telegram sends back.

Vendor behaviour kept: `POST /bot<token>/<method>` with JSON (or form) parameters; answers
`{"ok": true, "result"}` or `{"ok": false, "error_code", "description"}` with Telegram's
own descriptions ("Bad Request: chat not found", "…message is not modified…",
"Forbidden: bot was blocked by the user"); a 429 carries `parameters.retry_after`.
Sent messages keep their inline keyboards and edits, so a test sees exactly what a manager saw.
Deviation: `setWebhook` accepts http:// URLs (the real one demands HTTPS) for local runs.

Emitting (the user's side), delivered to the bot's webhook with its secret-token header:
    POST /_control/press   {"bot": id, "chat_id", "message_id", "data", "from": {...}}
        a click on a button of that message → a `callback_query` update
    POST /_control/message {"bot": id, "chat_id", "text", "from": {...}} → a `message` update
    POST /_control/block   {"bot": id, "chat_id"} → the user blocked the bot (403 from now on)
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from connectors.sandbox_kit import (
    SandboxSettings,
    VendorError,
    VendorStyle,
    build_app,
    emit,
    new_uuid,
)
from connectors.sandbox_store import SandboxStore
from connectors.telegram.config import SANDBOX_BOTS

SYSTEM = "telegram"
TOKENS = {token for token, _ in SANDBOX_BOTS.values()}
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_TEXT = 4096
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class TelegramStyle(VendorStyle):
    """`{"ok": false, "error_code", "description", "parameters"?}`."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"ok": False, "error_code": status, "description": message}

    def rate_limited(self, retry_after: float) -> Response:
        seconds = max(int(retry_after), 1)
        body = self.body(429, f"Too Many Requests: retry after {seconds}", None)
        return JSONResponse(body | {"parameters": {"retry_after": seconds}}, status_code=429)

    def missing(self, field: str) -> VendorError:
        return self.fail(400, f"Bad Request: {field} is empty")

    def bad_request(self, detail: str) -> Response:
        return self.error(400, f"Bad Request: {detail}")


STYLE = TelegramStyle()


async def _parameters(request: Request) -> dict[str, Any]:
    """Telegram takes JSON, a form or a query string alike."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body and request.headers.get("content-type", "").startswith("application/json"):
        try:
            params.update(json.loads(body))
        except ValueError:
            raise STYLE.fail(400, "Bad Request: can't parse JSON object") from None
    elif body:
        params.update({key: str(value) for key, value in (await request.form()).items()})
    return params


def _chat_id(raw: Any) -> str:
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise STYLE.missing("chat_id")
    if not (text.lstrip("-").isdigit() or text.startswith("@")):
        raise STYLE.fail(400, "Bad Request: chat not found")
    return text


def _keyboard(raw: Any) -> dict[str, Any] | None:
    if raw in (None, ""):
        return None
    markup = json.loads(raw) if isinstance(raw, str) else raw
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise STYLE.fail(400, "Bad Request: can't parse inline keyboard button")
    for row in rows:
        for button in row:
            data = str(button.get("callback_data", "")) if isinstance(button, dict) else ""
            if not button.get("text") or not 1 <= len(data.encode()) <= 64:
                raise STYLE.fail(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


class Bots:
    """The double's state operations on one store."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings

    def user(self, bot_id: str) -> dict[str, Any]:
        return {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": f"Sandbox bot {bot_id}",
            "username": f"sandbox_{bot_id}_bot",
        }

    def key(self, bot_id: str, chat_id: str, message_id: int | str) -> str:
        return f"{bot_id}:{chat_id}:{message_id}"

    def message_view(self, message: dict[str, Any]) -> dict[str, Any]:
        view = {
            "message_id": message["message_id"],
            "from": self.user(message["bot_id"]),
            "chat": {"id": int(message["chat_id"]), "type": "private"},
            "date": message["date"],
            "text": message["text"],
        }
        if message.get("edit_date"):
            view["edit_date"] = message["edit_date"]
        if message.get("reply_markup"):
            view["reply_markup"] = message["reply_markup"]
        return view

    def check_chat(self, bot_id: str, chat_id: str) -> None:
        if self.store.get(SYSTEM, "blocked", f"{bot_id}:{chat_id}") is not None:
            raise STYLE.fail(403, "Forbidden: bot was blocked by the user")

    def send(self, bot_id: str, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(p.get("chat_id"))
        text = str(p.get("text") or "")
        if not text:
            raise STYLE.fail(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise STYLE.fail(400, "Bad Request: message is too long")
        markup = _keyboard(p.get("reply_markup"))
        self.check_chat(bot_id, chat_id)
        in_chat = [
            m
            for m in self.store.records(SYSTEM, "message")
            if (m["bot_id"], m["chat_id"]) == (bot_id, chat_id)
        ]
        message_id = len(in_chat) + 1
        message: dict[str, Any] = {
            "bot_id": bot_id,
            "chat_id": chat_id,
            "message_id": message_id,
            "date": int(time.time()),
            "text": text,
            "reply_markup": markup,
            "parse_mode": p.get("parse_mode"),
            "edits": [],
        }
        self.store.add(SYSTEM, "message", self.key(bot_id, chat_id, message_id), message)
        return self.message_view(message)

    def edit(self, bot_id: str, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(p.get("chat_id"))
        key = self.key(bot_id, chat_id, p.get("message_id", ""))
        message = self.store.get(SYSTEM, "message", key)
        if message is None:
            raise STYLE.fail(400, "Bad Request: message to edit not found")
        text = str(p.get("text") or "")
        if not text:
            raise STYLE.fail(400, "Bad Request: message text is empty")
        markup = _keyboard(p.get("reply_markup"))
        if (text, markup) == (message["text"], message["reply_markup"]):
            raise STYLE.fail(400, NOT_MODIFIED)
        message["edits"].append({"text": message["text"], "reply_markup": message["reply_markup"]})
        message.update(text=text, reply_markup=markup, edit_date=int(time.time()))
        self.store.put(SYSTEM, "message", key, message)
        return self.message_view(message)

    def answer(self, bot_id: str, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        query = self.store.get(SYSTEM, "callback_query", query_id)
        if query is None or query["bot_id"] != bot_id or query.get("answer") is not None:
            raise STYLE.fail(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        query["answer"] = {"text": p.get("text"), "show_alert": bool(p.get("show_alert"))}
        self.store.put(SYSTEM, "callback_query", query_id, query)
        return True

    def set_webhook(self, bot_id: str, p: dict[str, Any]) -> bool:
        url = str(p.get("url") or "")
        secret = str(p.get("secret_token") or "")
        if url and not url.startswith(("http://", "https://")):
            raise STYLE.fail(400, "Bad Request: bad webhook: invalid webhook URL specified")
        if secret and not SECRET.match(secret):
            raise STYLE.fail(400, "Bad Request: secret token contains unallowed characters")
        allowed = p.get("allowed_updates") or ["message", "callback_query"]
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        hook = {"url": url, "secret_token": secret, "allowed_updates": allowed}
        self.store.put(SYSTEM, "webhook", bot_id, hook)
        return True

    def webhook_info(self, bot_id: str, _p: dict[str, Any]) -> dict[str, Any]:
        hook = self.store.get(SYSTEM, "webhook", bot_id) or {"url": "", "allowed_updates": []}
        return {
            "url": hook["url"],
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "allowed_updates": hook["allowed_updates"],
        }

    def deliver(self, bot_id: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        """Build an update and POST it to the bot's webhook with the secret header."""
        update_id = 500_000_000 + len(self.store.records(SYSTEM, "update")) + 1
        update = {"update_id": update_id, kind: content}
        self.store.add(SYSTEM, "update", str(update_id), update | {"bot_id": bot_id})
        hook = self.store.get(SYSTEM, "webhook", bot_id)
        if not hook or not hook["url"] or kind not in hook["allowed_updates"]:
            return {"update": update, "delivery": None}
        headers = {}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        delivery = emit(
            system=SYSTEM,
            store=self.store,
            settings=self.settings,
            url=hook["url"],
            payload=update,
            headers=headers,
        )
        return {"update": update, "delivery": delivery}


def _person(raw: Any, chat_id: str) -> dict[str, Any]:
    person = {"id": int(chat_id), "is_bot": False, "first_name": "Тест", "language_code": "ru"}
    return person | (raw if isinstance(raw, dict) else {})


def create_sandbox_app(store: SandboxStore, settings: SandboxSettings | None = None) -> FastAPI:
    """The Telegram double, to be mounted at /sandbox/telegram."""
    settings = settings or SandboxSettings()
    bots = Bots(store, settings)
    methods = {
        "getMe": lambda bot_id, _p: bots.user(bot_id),
        "sendMessage": bots.send,
        "editMessageText": bots.edit,
        "answerCallbackQuery": bots.answer,
        "setWebhook": bots.set_webhook,
        "getWebhookInfo": bots.webhook_info,
    }
    vendor = APIRouter()
    control = APIRouter()

    @vendor.api_route("/bot{token}/{method}", methods=["GET", "POST"])
    async def call(token: str, method: str, request: Request) -> Any:
        if token not in TOKENS:
            raise STYLE.fail(401, "Unauthorized")
        handler = methods.get(method)
        if handler is None:
            raise STYLE.fail(404, "Not Found: method not found")
        params = await _parameters(request)
        result = await run_in_threadpool(handler, token.split(":", 1)[0], params)
        answer: dict[str, Any] = {"ok": True, "result": result}
        if method == "setWebhook":
            answer["description"] = "Webhook was set"
        return answer

    @control.post("/press")
    def press(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        bot_id, chat_id = str(body.get("bot", "")), _chat_id(body.get("chat_id"))
        message = store.get(
            SYSTEM, "message", bots.key(bot_id, chat_id, body.get("message_id", ""))
        )
        markup = (message or {}).get("reply_markup") or {}
        data = [
            button["callback_data"] for row in markup.get("inline_keyboard", []) for button in row
        ]
        if message is None or body.get("data") not in data:
            raise STYLE.fail(400, "no such message or no button with that data")
        query_id = str(int(new_uuid().replace("-", "")[:15], 16))
        store.add(SYSTEM, "callback_query", query_id, {"bot_id": bot_id, "answer": None})
        content = {
            "id": query_id,
            "from": _person(body.get("from"), chat_id),
            "message": bots.message_view(message),
            "chat_instance": f"-{chat_id}",
            "data": body["data"],
        }
        return bots.deliver(bot_id, "callback_query", content)

    @control.post("/message")
    def message(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        bot_id, chat_id = str(body.get("bot", "")), _chat_id(body.get("chat_id"))
        sender = _person(body.get("from"), chat_id)
        content = {
            "message_id": 10_000 + len(store.records(SYSTEM, "update")),
            "from": sender,
            "chat": {"id": int(chat_id), "type": "private", "first_name": sender["first_name"]},
            "date": int(time.time()),
            "text": str(body.get("text", "")),
        }
        return bots.deliver(bot_id, "message", content)

    @control.post("/block")
    def block(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        key = f"{body.get('bot', '')}:{_chat_id(body.get('chat_id'))}"
        store.put(SYSTEM, "blocked", key, {"blocked": True})
        return {"blocked": key}

    return build_app(
        system=SYSTEM, store=store, style=STYLE, settings=settings, vendor=vendor, control=control
    )
