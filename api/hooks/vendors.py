"""Each vendor's webhook body → the `Inbound` events it carries (no I/O here, except the
re-fetch helpers at the end, which take the client to ask).

Messages (correlation keys → variables):

- Telegram, the customers' bot: `inbound_message` (channel "telegram", contact = chat id) →
  text, name, telegram_user_id, username. Other bots: `bot_message` (bot, chat_id) → text.
  A button: `button_pressed` (callback_data) → bot, telegram_user_id, chat_id, message_id.
- WhatsApp: `inbound_message` (channel "whatsapp", contact = wa_id) → text, name, phone,
  button_id?. Avito: `inbound_message` (channel "avito", contact = chat id) → text,
  avito_user_id, item_id. Site chat: `inbound_message` (channel "site_chat", contact =
  visitor id) → text, name?, phone?, page?.
- Calls: started / missed → `inbound_message` (channel "call", contact = caller) → text "",
  phone, called_line (the lead's source), call_id, missed; ended → `call_ended` (same keys)
  → call_id, called_line, duration, recording_url.
- YooKassa: `payment_received` / `payment_canceled` / `refund_succeeded` (order_id from the
  payment's metadata) → amount, currency, payment_id, status | reason | refund_id.
- MoySklad customer orders: `order_status` (order_id = MoySklad id) → state, action,
  number, updated_fields. CDEK: `shipment_status` (order_id = our `number`) → status (our
  word, handlers.courier.STATUSES), code, track_number, carrier, city, at.

Dedupe ids (`inbound_event.external_id`): Telegram `<bot>:<update_id>`, WhatsApp wamid, Avito
message id, site-chat message id, calls `<call_id>:<event>`, YooKassa `<payment id>:<status>`
(of the re-fetched payment), MoySklad `<requestId>:<n>`, CDEK `<uuid>:<status code>`.
"""

from __future__ import annotations

from typing import Any

from api.hooks.inbound import Inbound
from handlers.courier import cdek_status

INBOUND = "inbound_message"


class BadPayload(ValueError):
    """The body is not what this vendor sends (answered 400; nothing is recorded)."""


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be a JSON object")
    return value


def _dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (optional parts of a body)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = 4096) -> str:
    return str(value or "")[:limit]


def _id(value: Any, what: str) -> str:
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        raise BadPayload(f"{what} is missing")
    return str(value)[:200]


def _phone(value: Any) -> str:
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return f"+{digits}" if digits else ""


# --- messengers -----------------------------------------------------------------------------


def telegram_events(bot: str, update: dict[str, Any], customer_bot: str) -> list[Inbound]:
    """A Telegram update: a customer's text, a button press, or nothing we act on."""
    external_id = f"{bot}:{_id(update.get('update_id'), 'update_id')}"
    if isinstance(update.get("callback_query"), dict):
        return [_telegram_button(bot, external_id, update)]
    message = update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return [Inbound("telegram", external_id, None, body=update, note="no message")]
    sender = _dict(message.get("from"))
    chat_id = _id(message["chat"].get("id"), "message.chat.id")
    text = _text(message.get("text") or message.get("caption"))
    if bot != customer_bot:
        correlation = {"bot": bot, "chat_id": chat_id}
        variables = {"text": text, "telegram_user_id": sender.get("id")}
        return [Inbound("telegram", external_id, "bot_message", correlation, variables, update)]
    name = " ".join(str(sender[k]) for k in ("first_name", "last_name") if sender.get(k))
    variables = {
        "text": text,
        "name": name,
        "telegram_user_id": sender.get("id"),
        "username": sender.get("username"),
    }
    correlation = {"channel": "telegram", "contact": chat_id}
    return [Inbound("telegram", external_id, INBOUND, correlation, variables, update)]


def _telegram_button(bot: str, external_id: str, update: dict[str, Any]) -> Inbound:
    query = update["callback_query"]
    message = _dict(query.get("message"))
    chat = _dict(message.get("chat"))
    sender = _dict(query.get("from"))
    variables = {
        "bot": bot,
        "telegram_user_id": sender.get("id"),
        "chat_id": chat.get("id"),
        "message_id": message.get("message_id"),
        "callback_query_id": query.get("id"),
    }
    correlation = {"callback_data": _text(query.get("data"), 64)}
    return Inbound("telegram", external_id, "button_pressed", correlation, variables, update)


def _whatsapp_text(message: dict[str, Any]) -> tuple[str, str | None]:
    kind = message.get("type")
    if kind == "text":
        return _text((message.get("text") or {}).get("body")), None
    if kind == "interactive":
        reply = (message.get("interactive") or {}).get("button_reply") or {}
        return _text(reply.get("title")), reply.get("id")
    if kind == "button":
        button = message.get("button") or {}
        return _text(button.get("text")), button.get("payload")
    return f"[{kind}]", None


def whatsapp_events(body: dict[str, Any]) -> list[Inbound]:
    """Every customer message of a WhatsApp Cloud API webhook (statuses are not acted on)."""
    events: list[Inbound] = []
    for entry in body.get("entry") or []:
        for change in _object(entry, "entry").get("changes") or []:
            value = _object(change, "change").get("value") or {}
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            names = {
                str(c.get("wa_id")): (c.get("profile") or {}).get("name")
                for c in value.get("contacts") or []
                if isinstance(c, dict)
            }
            for message in value.get("messages") or []:
                events.append(_whatsapp_message(_object(message, "message"), names))
    return events


def _whatsapp_message(message: dict[str, Any], names: dict[str, Any]) -> Inbound:
    wa_id = _id(message.get("from"), "message.from")
    text, button_id = _whatsapp_text(message)
    variables: dict[str, Any] = {"text": text, "name": names.get(wa_id), "phone": _phone(wa_id)}
    if button_id:
        variables["button_id"] = button_id
    correlation = {"channel": "whatsapp", "contact": wa_id}
    external_id = _id(message.get("id"), "message.id")
    return Inbound("whatsapp", external_id, INBOUND, correlation, variables, message)


def avito_events(body: dict[str, Any], own_user_id: str) -> list[Inbound]:
    """An Avito messenger event; our own messages coming back are recorded, not delivered."""
    value = _object(_object(body.get("payload"), "payload").get("value"), "payload.value")
    external_id = _id(value.get("id"), "payload.value.id")
    if str(value.get("author_id")) == str(own_user_id):
        return [Inbound("avito", external_id, None, body=body, note="our own message")]
    if (body.get("payload") or {}).get("type") != "message":
        return [Inbound("avito", external_id, None, body=body, note="not a message")]
    correlation = {"channel": "avito", "contact": _id(value.get("chat_id"), "chat_id")}
    variables = {
        "text": _text((value.get("content") or {}).get("text")),
        "avito_user_id": value.get("author_id"),
        "item_id": value.get("item_id"),
    }
    return [Inbound("avito", external_id, INBOUND, correlation, variables, body)]


def site_chat_events(body: dict[str, Any]) -> list[Inbound]:
    """A visitor's message from the shop's site-chat widget: `{id, visitor_id, text, name?,
    phone?, page?}`."""
    correlation = {"channel": "site_chat", "contact": _id(body.get("visitor_id"), "visitor_id")}
    variables = {"text": _text(body.get("text"))}
    for optional in ("name", "page"):
        if body.get(optional):
            variables[optional] = _text(body[optional], 500)
    if body.get("phone"):
        variables["phone"] = _phone(body["phone"])
    return [Inbound("site_chat", _id(body.get("id"), "id"), INBOUND, correlation, variables, body)]


def call_events(body: dict[str, Any]) -> list[Inbound]:
    """Telephony: `{event: call_started | call_missed | call_ended, call_id, caller,
    called_line, duration?, recording_url?}`; the called line is the lead's source."""
    event = body.get("event")
    if event not in ("call_started", "call_missed", "call_ended"):
        raise BadPayload("event must be call_started, call_missed or call_ended")
    call_id = _id(body.get("call_id"), "call_id")
    caller = _phone(_id(body.get("caller"), "caller"))
    line = _phone(body.get("called_line"))
    correlation = {"channel": "call", "contact": caller}
    external_id = f"{call_id}:{event}"
    if event == "call_ended":
        variables = {
            "call_id": call_id,
            "called_line": line,
            "duration": body.get("duration"),
            "recording_url": body.get("recording_url"),
        }
        return [Inbound("calls", external_id, "call_ended", correlation, variables, body)]
    variables = {
        "text": "",
        "phone": caller,
        "called_line": line,
        "call_id": call_id,
        "missed": event == "call_missed",
    }
    return [Inbound("calls", external_id, INBOUND, correlation, variables, body)]


# --- payments, warehouse, couriers (the body is only a hint: these re-fetch) ----------------


def yookassa_event(payment: dict[str, Any], refund: dict[str, Any] | None = None) -> Inbound:
    """The event the re-fetched payment (and refund) stands for; never the body's claim."""
    payment_id = _id(payment.get("id"), "object.id")
    order_id = (payment.get("metadata") or {}).get("order_id")
    correlation = {"order_id": order_id}
    status = payment.get("status")
    if refund is not None:
        external_id = f"refund:{_id(refund.get('id'), 'refund.id')}:{refund.get('status')}"
        if refund.get("status") != "succeeded":
            return Inbound("yookassa", external_id, None, body=refund, note="refund pending")
        variables = {
            "refund_id": refund["id"],
            "payment_id": payment_id,
            "amount": (refund.get("amount") or {}).get("value"),
        }
        return Inbound("yookassa", external_id, "refund_succeeded", correlation, variables, refund)
    external_id = f"{payment_id}:{status}"
    if status == "succeeded":
        amount = payment.get("amount") or {}
        variables = {
            "amount": amount.get("value"),
            "currency": amount.get("currency"),
            "payment_id": payment_id,
            "status": status,
        }
        return Inbound("yookassa", external_id, "payment_received", correlation, variables, payment)
    if status == "canceled":
        reason = (payment.get("cancellation_details") or {}).get("reason")
        variables = {"payment_id": payment_id, "reason": reason}
        return Inbound("yookassa", external_id, "payment_canceled", correlation, variables, payment)
    return Inbound("yookassa", external_id, None, body=payment, note=f"status {status}")


def moysklad_targets(body: dict[str, Any]) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(position, entity type, entity id, event) of every event of a MoySklad delivery."""
    found = []
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise BadPayload("events must be a non-empty list")
    for position, event in enumerate(events):
        meta = _object(_object(event, "event").get("meta"), "event.meta")
        href = _id(meta.get("href"), "event.meta.href")
        entity_id = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        found.append((position, str(meta.get("type") or ""), entity_id, event))
    return found


def moysklad_event(
    request_id: str, position: int, event: dict[str, Any], order: dict[str, Any] | None, state: str
) -> Inbound:
    """One MoySklad event about a customer order, with the order as MoySklad has it now."""
    entity_id = event["meta"]["href"].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    variables = {
        "state": state,
        "action": event.get("action"),
        "number": (order or {}).get("name"),
        "updated_fields": event.get("updatedFields") or [],
    }
    return Inbound(
        "moysklad",
        f"{request_id}:{position}",
        "order_status",
        {"order_id": entity_id},
        variables,
        event,
    )


def cdek_events(body: dict[str, Any]) -> list[Inbound]:
    """A CDEK ORDER_STATUS webhook; other types are recorded only."""
    uuid = _id(body.get("uuid"), "uuid")
    raw = body.get("attributes")
    attributes: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = attributes.get("code")
    external_id = f"{uuid}:{attributes.get('status_code') or code}"
    if body.get("type") != "ORDER_STATUS" or not code:
        return [Inbound("cdek", external_id, None, body=body, note="not an order status")]
    variables = {
        "status": cdek_status(code),
        "code": code,
        "track_number": attributes.get("cdek_number"),
        "carrier": "cdek",
        "city": attributes.get("city_name"),
        "at": attributes.get("status_date_time") or body.get("date_time"),
    }
    correlation = {"order_id": attributes.get("number")}
    return [Inbound("cdek", external_id, "shipment_status", correlation, variables, body)]
