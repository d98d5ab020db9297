"""Notification operators: an SMS, or a text on the customer's own channel.

`notify.message` answers where the customer wrote: Telegram (the customers' bot, chat id as
contact), WhatsApp (wa_id), Avito (chat id), the site chat (visitor id, through the widget
backend); a channel without a messenger ("sms", "call", anything else) goes out as SMS to
`phone`. When the messenger refuses for good (the customer blocked the bot, the WhatsApp
24-hour window is closed, no site-chat backend) and a phone is known, the text goes out as
SMS instead of opening an incident; transient failures are retried as usual.

The same senders deliver outbox rows (`engine.outbox`) of channels sms, telegram, whatsapp
and avito, so a transaction can queue a text that is sent only if it commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from connectors.base import PermanentConnectorError
from engine.operators import HandlerContext, operator
from engine.outbox import OutboxItem, register_sender
from handlers.base import HandlerRefusal, digits, stable_uuid
from handlers.clients import Clients, clients_for, current_clients

MESSENGERS = ("telegram", "whatsapp", "avito", "site_chat")


def _numeric_id(key: str) -> str:
    """A short digits-only message id (SMSC accepts digits) derived from a longer key."""
    return str(int(key.replace("-", "")[:12], 16))


def send_sms(clients: Clients, phone: str, text: str, *, key: str) -> dict[str, Any]:
    """One SMS through the configured gateway; refuses an empty number."""
    if not digits(phone):
        raise HandlerRefusal("no_phone", "no phone number to send the SMS to")
    if not text:
        raise HandlerRefusal("no_text", "the SMS text is empty")
    sent = clients.sms().send(phone, text, message_id=_numeric_id(key))
    return {"channel": "sms", "message_id": sent.sms_id, "phone": sent.phone}


def _telegram(clients: Clients, contact: str, text: str, key: str) -> dict[str, Any]:
    message = clients.telegram().send_message(contact, text)
    return {"message_id": str(message.get("message_id"))}


def _whatsapp(clients: Clients, contact: str, text: str, key: str) -> dict[str, Any]:
    answer = clients.whatsapp().send_text(contact, text)
    return {"message_id": (answer.get("messages") or [{}])[0].get("id")}


def _avito(clients: Clients, contact: str, text: str, key: str) -> dict[str, Any]:
    return {"message_id": clients.avito().send_message(contact, text).get("id")}


def _site_chat(clients: Clients, contact: str, text: str, key: str) -> dict[str, Any]:
    clients.site_chat().reply(contact, text, message_id=key)
    return {"message_id": key}


_SENDERS: dict[str, Callable[[Clients, str, str, str], dict[str, Any]]] = {
    "telegram": _telegram,
    "whatsapp": _whatsapp,
    "avito": _avito,
    "site_chat": _site_chat,
}


@operator("notify.sms", inline=False)
def sms(ctx: HandlerContext, phone: str, text: str) -> dict[str, Any]:
    """Send an SMS through the configured gateway (SMS.ru or SMSC).

    Args:
        phone: the recipient's phone in any format ("+7 913 123-45-67").
        text: the message.

    Returns:
        {"channel": "sms", "message_id", "phone"}.
    """
    return send_sms(clients_for(ctx), phone, text, key=stable_uuid(ctx, "sms"))


@operator("notify.message", inline=False)
def message(
    ctx: HandlerContext, channel: str, contact: str = "", phone: str = "", text: str = ""
) -> dict[str, Any]:
    """Send a text to the customer on the channel they came from (SMS when there is none).

    Args:
        channel: telegram | whatsapp | avito | site_chat | sms | call …
        contact: the customer's id on that channel (Telegram chat id, WhatsApp wa_id, Avito
            chat id, site-chat visitor id).
        phone: the customer's phone: the SMS channel, and the fallback of a refused messenger.
        text: the message.

    Returns:
        {"channel" (where it went), "requested_channel", "message_id", "fallback"?}.
    """
    clients = clients_for(ctx)
    key = stable_uuid(ctx, f"message:{channel}")
    if not text:
        raise HandlerRefusal("no_text", "the message text is empty")
    sender = _SENDERS.get(channel)
    if sender is None:  # no messenger on this channel: the SMS is the channel
        return _as_sms(clients, channel, phone or contact, text, key, None)
    if not contact or (channel == "site_chat" and not clients.settings.site_chat.reply_url):
        return _as_sms(clients, channel, phone, text, key, f"no {channel} contact or backend")
    try:
        sent = sender(clients, str(contact), text, key)
    except PermanentConnectorError as exc:
        if not digits(phone):
            raise
        return _as_sms(clients, channel, phone, text, key, exc.vendor_message or exc.message)
    return {"channel": channel, "requested_channel": channel} | sent


def _as_sms(
    clients: Clients, channel: str, phone: str, text: str, key: str, fallback: str | None
) -> dict[str, Any]:
    sent = send_sms(clients, phone, text, key=key)
    result = sent | {"requested_channel": channel}
    if fallback:
        result["fallback"] = fallback
    return result


# --- outbox senders -------------------------------------------------------------------------


def _outbox_sender(channel: str) -> Callable[[OutboxItem], None]:
    def deliver(item: OutboxItem) -> None:
        text = str(item.payload.get("text") or "")
        key = item.dedupe_key or f"outbox-{item.id}"
        if channel == "sms":
            send_sms(current_clients(), item.recipient, text, key=stable_key(key))
        else:
            _SENDERS[channel](current_clients(), item.recipient, text, key)

    return deliver


def stable_key(text: str) -> str:
    """A UUID-shaped key for an outbox dedupe key of any shape."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"potok:outbox:{text}"))


for _channel in ("sms", "telegram", "whatsapp", "avito"):
    register_sender(_channel, _outbox_sender(_channel))
