"""Inbound webhooks `/hooks/*`: verify the vendor's way, dedupe, deliver a BPMN message.

- `POST /hooks/telegram/{bot}`: `X-Telegram-Bot-Api-Secret-Token` equals the bot's
  `webhook_secret` (missing 401, wrong 403; unknown bot 404).
- `GET /hooks/whatsapp`: `hub.verify_token` equals `verify_token` → echoes `hub.challenge`.
- `POST /hooks/whatsapp`: `X-Hub-Signature-256` = HMAC-SHA256 of the raw body with the
  `app_secret` (missing 401, wrong 403).
- `POST /hooks/avito`, `POST /hooks/cdek`, `POST /hooks/moysklad?requestId=`: these vendors
  sign nothing, so the URL we subscribe with carries `?token=` (POTOK_HOOKS_AVITO_TOKEN,
  _CDEK_TOKEN, _MOYSKLAD_TOKEN; wrong 403); MoySklad's entity is re-read before it counts.
- `POST /hooks/site-chat`, `POST /hooks/calls`: `X-Potok-Signature: sha256=<HMAC of the raw
  body>` with POTOK_SITE_CHAT__SECRET / POTOK_HOOKS_CALLS_SECRET (missing 401, wrong 403).
- `POST /hooks/yookassa`: YooKassa signs nothing: the sender must be in its networks (403),
  and the payment is re-fetched; only the re-fetched status counts (unknown object 403).

Every accepted delivery answers 200 `{"ok": true, "events": [{"id", "outcome"}]}` once the
events are committed (`api.hooks.inbound`). A re-fetch the vendor cannot answer now is a 503
with nothing recorded, so the vendor's own retry is processed in full later. The routes are
left out of the OpenAPI schema: vendors, not integrators, call them.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.hooks.inbound import Inbound, accept
from api.hooks.settings import HookSettings, get_hook_settings, source_allowed, usable_secret
from api.hooks.vendors import (
    BadPayload,
    avito_events,
    call_events,
    cdek_events,
    moysklad_event,
    moysklad_targets,
    site_chat_events,
    telegram_events,
    whatsapp_events,
    yookassa_event,
)
from connectors.base import ConnectorError, PermanentConnectorError
from connectors.whatsapp.client import signature_valid
from engine.db import session_scope
from handlers.clients import Clients, current_clients, sign

log = logging.getLogger("potok.hooks")
router = APIRouter(prefix="/hooks", tags=["webhooks"], include_in_schema=False)


# --- plumbing ---------------------------------------------------------------------------------


def _hook_settings(request: Request) -> HookSettings:
    settings = getattr(request.app.state, "hook_settings", None)
    return settings if isinstance(settings, HookSettings) else get_hook_settings()


def _env(request: Request) -> str:
    return str(request.app.state.settings.env)


async def _raw(request: Request) -> bytes:
    limit = _hook_settings(request).max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", "The webhook body is too large")
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, "payload_too_large", "The webhook body is too large")
    return body


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_json", "The body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object")
    return body


def _parse(parse: Callable[[], list[Inbound]]) -> list[Inbound]:
    try:
        return parse()
    except BadPayload as exc:
        raise ApiError(400, "bad_payload", str(exc)) from None


def _check_secret(given: str | None, expected: str | None, what: str) -> None:
    """401 without the credential, 403 with a wrong one (or none configured)."""
    if not given:
        raise ApiError(401, "missing_signature", f"{what} is missing")
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "invalid_signature", f"{what} does not match")


def _check_token(request: Request, secret: Any) -> None:
    expected = usable_secret(secret, env=_env(request))
    given = request.query_params.get("token") or ""
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "invalid_token", "The webhook token does not match")


def _check_signed(request: Request, raw: bytes, secret: Any) -> None:
    expected = usable_secret(secret, env=_env(request))
    signature = sign(expected, raw) if expected else None
    _check_secret(request.headers.get("x-potok-signature"), signature, "X-Potok-Signature")


async def _refetch(call: Callable[[], Any]) -> Any:
    """Ask the vendor (outside any database transaction); an outage is a 503."""
    try:
        return await run_in_threadpool(call)
    except PermanentConnectorError:
        raise
    except ConnectorError as exc:
        log.warning("webhook re-fetch failed: %s", exc)
        raise ApiError(
            503, "vendor_unavailable", "Could not confirm the event with the vendor; retry later"
        ) from exc


def _commit(request: Request, events: list[Inbound]) -> list[str]:
    with session_scope(request.app.state.session_factory) as session:
        return [accept(session, event) for event in events]


async def _outcomes(request: Request, events: list[Inbound]) -> list[str]:
    """Record and deliver `events` in one unit of work (queued behind SQLite's one writer)."""
    gate = getattr(request.app.state, "db_gate", None)
    if gate is None:
        return await run_in_threadpool(_commit, request, events)
    async with gate.lock():
        return await run_in_threadpool(_commit, request, events)


def _answer(events: list[Inbound], outcomes: list[str]) -> JSONResponse:
    answer = [{"id": e.external_id, "outcome": o} for e, o in zip(events, outcomes, strict=True)]
    return JSONResponse({"ok": True, "events": answer})


async def _process(request: Request, events: list[Inbound]) -> JSONResponse:
    return _answer(events, await _outcomes(request, events))


def _clients() -> Clients:
    return current_clients()


# --- messengers -------------------------------------------------------------------------------


@router.post("/telegram/{bot}")
async def telegram(bot: str, request: Request, background: BackgroundTasks) -> Response:
    """A Telegram update for one of our bots (its secret token header proves the sender)."""
    settings = _clients().settings
    config = settings.telegram.bots.get(bot)
    if config is None:
        raise ApiError(404, "unknown_bot", f"No bot {bot!r} is configured")
    expected = usable_secret(config.webhook_secret, env=_env(request))
    given = request.headers.get("x-telegram-bot-api-secret-token")
    _check_secret(given, expected, "X-Telegram-Bot-Api-Secret-Token")
    body = _json(await _raw(request))
    events = _parse(lambda: telegram_events(bot, body, settings.telegram_customer_bot))
    outcomes = await _outcomes(request, events)
    query = body.get("callback_query")
    if isinstance(query, dict) and query.get("id"):
        background.add_task(_answer_button, bot, str(query["id"]), outcomes[0])
    return _answer(events, outcomes)


def _answer_button(bot: str, query_id: str, outcome: str) -> None:
    """Stop the button's spinner; a press nobody waited for says so."""
    text = None if outcome in ("delivered", "started", "duplicate") else "Уже неактуально"
    try:
        _clients().telegram(bot).answer_callback_query(query_id, text=text)
    except ConnectorError as exc:  # the press is recorded; a spinner left is cosmetic
        log.warning("answerCallbackQuery failed for bot %s: %s", bot, exc)


@router.get("/whatsapp")
async def whatsapp_verify(request: Request) -> Response:
    """Meta's subscription handshake: echo the challenge when the verify token matches."""
    params = request.query_params
    config = _clients().settings.whatsapp
    expected = usable_secret(config.verify_token, env=_env(request)) or ""
    given = params.get("hub.verify_token") or ""
    if params.get("hub.mode") != "subscribe" or not expected:
        raise ApiError(403, "invalid_token", "Not a valid subscription request")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "invalid_token", "The verify token does not match")
    return PlainTextResponse(params.get("hub.challenge") or "")


@router.post("/whatsapp")
async def whatsapp(request: Request) -> Response:
    """WhatsApp Cloud API messages, signed with the app secret (X-Hub-Signature-256)."""
    raw = await _raw(request)
    header = request.headers.get("x-hub-signature-256")
    if not header:
        raise ApiError(401, "missing_signature", "X-Hub-Signature-256 is missing")
    secret = usable_secret(_clients().settings.whatsapp.app_secret, env=_env(request))
    if secret is None or not signature_valid(secret, raw, header):
        raise ApiError(403, "invalid_signature", "X-Hub-Signature-256 does not match")
    body = _json(raw)
    return await _process(request, _parse(lambda: whatsapp_events(body)))


@router.post("/avito")
async def avito(request: Request) -> Response:
    """An Avito messenger event (the subscribed URL carries `?token=`)."""
    _check_token(request, _hook_settings(request).avito_token)
    body = _json(await _raw(request))
    own = _clients().settings.avito.user_id
    return await _process(request, _parse(lambda: avito_events(body, own)))


@router.post("/site-chat")
async def site_chat(request: Request) -> Response:
    """A visitor's message from the shop's site-chat widget backend (signed)."""
    raw = await _raw(request)
    _check_signed(request, raw, _clients().settings.site_chat.secret)
    body = _json(raw)
    return await _process(request, _parse(lambda: site_chat_events(body)))


@router.post("/calls")
async def calls(request: Request) -> Response:
    """Telephony events: a call started, missed or ended (signed by the telephony adapter)."""
    raw = await _raw(request)
    _check_signed(request, raw, _hook_settings(request).calls_secret)
    body = _json(raw)
    return await _process(request, _parse(lambda: call_events(body)))


# --- payments, warehouse, couriers --------------------------------------------------------------


@router.post("/yookassa")
async def yookassa(request: Request) -> Response:
    """A YooKassa notification: only a trusted source, and only what the API confirms."""
    host = request.client.host if request.client else None
    if not source_allowed(host, _hook_settings(request), env=_env(request)):
        raise ApiError(403, "untrusted_source", "Notifications come from YooKassa's networks only")
    body = _json(await _raw(request))
    raw_object = body.get("object")
    obj: dict[str, Any] = raw_object if isinstance(raw_object, dict) else {}
    event = str(body.get("event") or "")
    if body.get("type") != "notification" or not obj.get("id"):
        raise ApiError(400, "bad_payload", "Not a YooKassa notification")
    client = _clients().yookassa()
    try:
        if event.startswith("refund."):
            refund = await _refetch(lambda: client.get_refund(str(obj["id"])))
            payment = await _refetch(lambda: client.get_payment(str(refund.get("payment_id"))))
            found = yookassa_event(payment, refund)
        else:
            found = yookassa_event(await _refetch(lambda: client.get_payment(str(obj["id"]))))
    except PermanentConnectorError as exc:
        log.warning("YooKassa does not know %s %s: %s", event, obj.get("id"), exc)
        raise ApiError(403, "unknown_object", "YooKassa does not confirm this object") from exc
    return await _process(request, [found])


@router.post("/moysklad")
async def moysklad(request: Request) -> Response:
    """MoySklad entity events (only hrefs): each customer order is re-read before it counts."""
    _check_token(request, _hook_settings(request).moysklad_token)
    request_id = request.query_params.get("requestId")
    if not request_id:
        raise ApiError(400, "missing_request_id", "requestId is missing")
    body = _json(await _raw(request))
    targets = _parse_targets(body)
    client = _clients().moysklad()
    events: list[Inbound] = []
    for position, kind, entity_id, event in targets:
        if kind != "customerorder":
            external_id = f"{request_id}:{position}"
            events.append(Inbound("moysklad", external_id, None, body=event, note=kind))
            continue
        if event.get("action") == "DELETE":
            events.append(moysklad_event(request_id, position, event, None, "deleted"))
            continue
        try:
            order = await _refetch(partial(client.get_order, entity_id))
            states = await _refetch(client.order_states)
        except PermanentConnectorError as exc:
            external_id = f"{request_id}:{position}"
            events.append(Inbound("moysklad", external_id, None, body=event, note=str(exc)))
            continue
        state = _state_name(order, states)
        events.append(moysklad_event(request_id, position, event, order, state))
    return await _process(request, events)


def _parse_targets(body: dict[str, Any]) -> list[tuple[int, str, str, dict[str, Any]]]:
    try:
        return moysklad_targets(body)
    except BadPayload as exc:
        raise ApiError(400, "bad_payload", str(exc)) from None


def _state_name(order: dict[str, Any], states: dict[str, dict[str, Any]]) -> str:
    href = ((order.get("state") or {}).get("meta") or {}).get("href")
    for name, state in states.items():
        if (state.get("meta") or {}).get("href") == href:
            return name
    return ""


@router.post("/cdek")
async def cdek(request: Request) -> Response:
    """CDEK order statuses (the subscribed URL carries `?token=`)."""
    _check_token(request, _hook_settings(request).cdek_token)
    body = _json(await _raw(request))
    return await _process(request, _parse(lambda: cdek_events(body)))
