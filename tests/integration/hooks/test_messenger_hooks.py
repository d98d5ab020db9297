"""Telegram, WhatsApp, Avito, site chat and telephony hooks: verified, deduplicated, delivered.

Each: a bad signature is refused (401/403) and records nothing; the same event three times
starts one lead; the next event of the same contact reaches that lead; an event nobody
waits for is answered 2xx and kept as "unmatched".
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from connectors.telegram.config import SANDBOX_BOTS
from connectors.whatsapp.client import sign_body
from connectors.whatsapp.config import SANDBOX_APP_SECRET, SANDBOX_VERIFY_TOKEN
from handlers.clients import sign
from tests.integration.hooks.conftest import Hooks

LEAD = ("lead_echo", "inbound_message", ("channel", "contact"))
CUSTOMERS_SECRET = SANDBOX_BOTS["customers"][1]


def _deploy_lead(hooks: Hooks) -> None:
    hooks.deploy(*LEAD, start_on=True)


def _outcomes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [event["outcome"] for event in response.json()["events"]]


# --- Telegram -------------------------------------------------------------------------------


def _update(update_id: int, text: str, chat_id: int = 42) -> dict[str, Any]:
    sender = {"id": chat_id, "is_bot": False, "first_name": "Иван", "username": "ivan"}
    message = {
        "message_id": 100 + update_id,
        "from": sender,
        "chat": {"id": chat_id, "type": "private"},
        "date": 1767225600,
        "text": text,
    }
    return {"update_id": update_id, "message": message}


def _telegram(hooks: Hooks, body: dict[str, Any], secret: str | None, bot: str = "customers"):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return hooks.http.post(f"/hooks/telegram/{bot}", json=body, headers=headers)


def test_telegram_refuses_a_wrong_or_missing_secret(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    assert _telegram(hooks, _update(1, "Привет"), None).status_code == 401
    refused = _telegram(hooks, _update(1, "Привет"), "guess")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "invalid_signature"
    assert _telegram(hooks, _update(1, "x"), CUSTOMERS_SECRET, bot="nobody").status_code == 404
    assert hooks.event_count() == 0 and hooks.instances("lead_echo") == []


def test_telegram_same_update_three_times_starts_one_lead(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    outcomes = [
        _outcomes(_telegram(hooks, _update(7, "Нужен бампер"), CUSTOMERS_SECRET))[0]
        for _ in range(3)
    ]
    assert outcomes == ["started", "duplicate", "duplicate"]
    (lead,) = hooks.instances("lead_echo")
    assert lead.variables["first"]["contact"] == "42"
    assert lead.variables["first"]["text"] == "Нужен бампер"
    assert lead.variables["first"]["name"] == "Иван"
    assert _outcomes(_telegram(hooks, _update(8, "Газель 2015"), CUSTOMERS_SECRET)) == ["delivered"]
    (lead,) = hooks.instances("lead_echo")
    assert lead.status == "completed" and lead.variables["reply"]["text"] == "Газель 2015"
    assert [e.outcome for e in hooks.events("telegram")] == ["started", "delivered"]


def test_a_button_nobody_waits_for_is_unmatched_and_answered(hooks: Hooks) -> None:
    hooks.vendor.on("POST", "/answerCallbackQuery", {"ok": True, "result": True})
    managers_secret = SANDBOX_BOTS["managers"][1]
    press = {
        "update_id": 9,
        "callback_query": {
            "id": "cq-1",
            "from": {"id": 5},
            "message": {"message_id": 3, "chat": {"id": 5}},
            "data": "take:O-1",
        },
    }
    assert _outcomes(_telegram(hooks, press, managers_secret, bot="managers")) == ["unmatched"]
    (event,) = hooks.events("telegram")
    assert event.outcome == "unmatched" and event.payload["message"] == "button_pressed"
    (answer,) = hooks.vendor.sent("POST", "/answerCallbackQuery")
    assert answer == {"callback_query_id": "cq-1", "text": "Уже неактуально", "show_alert": False}


def test_text_to_a_staff_bot_is_not_a_lead(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    managers_secret = SANDBOX_BOTS["managers"][1]
    response = _telegram(hooks, _update(3, "/start"), managers_secret, bot="managers")
    assert _outcomes(response) == ["unmatched"]
    assert hooks.instances("lead_echo") == []


# --- WhatsApp -------------------------------------------------------------------------------


def _wa_body(*messages: tuple[str, str]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "100000000000001"},
        "contacts": [{"wa_id": "79131234567", "profile": {"name": "Иван"}}],
        "messages": [
            {
                "from": "79131234567",
                "id": wamid,
                "timestamp": "1767225600",
                "type": "text",
                "text": {"body": text},
            }
            for wamid, text in messages
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "W1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _whatsapp(hooks: Hooks, raw: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return hooks.http.post("/hooks/whatsapp", content=raw, headers=headers)


def test_whatsapp_verification_handshake(hooks: Hooks) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": SANDBOX_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = hooks.http.get("/hooks/whatsapp", params=params)
    assert answer.status_code == 200 and answer.text == "1158201444"
    wrong = hooks.http.get("/hooks/whatsapp", params=params | {"hub.verify_token": "nope"})
    assert wrong.status_code == 403


def test_whatsapp_refuses_a_bad_signature(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    raw = _wa_body(("wamid.A", "Здравствуйте"))
    assert _whatsapp(hooks, raw, None).status_code == 401
    assert _whatsapp(hooks, raw, sign_body("other-secret", raw)).status_code == 403
    tampered = raw.replace("Здравствуйте".encode(), b"Hacked")
    assert _whatsapp(hooks, tampered, sign_body(SANDBOX_APP_SECRET, raw)).status_code == 403
    assert hooks.event_count() == 0 and hooks.instances("lead_echo") == []


def test_whatsapp_same_message_three_times_starts_one_lead(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    raw = _wa_body(("wamid.A", "Здравствуйте"))
    outcomes = [
        _outcomes(_whatsapp(hooks, raw, sign_body(SANDBOX_APP_SECRET, raw)))[0] for _ in range(3)
    ]
    assert outcomes == ["started", "duplicate", "duplicate"]
    both = _wa_body(("wamid.A", "Здравствуйте"), ("wamid.B", "Бампер на Газель"))
    assert _outcomes(_whatsapp(hooks, both, sign_body(SANDBOX_APP_SECRET, both))) == [
        "duplicate",
        "delivered",
    ]
    (lead,) = hooks.instances("lead_echo")
    assert lead.variables["first"]["phone"] == "+79131234567"
    assert lead.variables["reply"]["text"] == "Бампер на Газель"


# --- Avito, site chat, calls ----------------------------------------------------------------


def _avito_event(message_id: str, author_id: int, text: str = "Есть в наличии?") -> dict:
    value = {
        "id": message_id,
        "chat_id": "u2i-77",
        "user_id": 300100100,
        "author_id": author_id,
        "created": 1767225600,
        "type": "text",
        "content": {"text": text},
        "item_id": 555,
    }
    return {
        "id": "ev-" + message_id,
        "version": "v3.0.0",
        "timestamp": 1767225600,
        "payload": {"type": "message", "value": value},
    }


def test_avito_token_dedupe_and_own_echo(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    body = _avito_event("m-1", 12345)
    assert hooks.http.post("/hooks/avito", json=body).status_code == 403
    assert hooks.http.post("/hooks/avito?token=nope", json=body).status_code == 403
    assert hooks.event_count() == 0
    url = "/hooks/avito?token=development-avito-token"
    outcomes = [_outcomes(hooks.http.post(url, json=body))[0] for _ in range(3)]
    assert outcomes == ["started", "duplicate", "duplicate"]
    echo = _avito_event("m-2", 300100100, "Да, есть")  # our own reply coming back
    assert _outcomes(hooks.http.post(url, json=echo)) == ["ignored"]
    (lead,) = hooks.instances("lead_echo")
    assert lead.variables["first"]["contact"] == "u2i-77" and lead.status == "waiting"


def _signed(hooks: Hooks, path: str, body: dict[str, Any], secret: str | None):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Potok-Signature"] = sign(secret, raw)
    return hooks.http.post(path, content=raw, headers=headers)


def test_site_chat_signature_and_dedupe(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    body = {"id": "sc-1", "visitor_id": "v-9", "text": "Здравствуйте", "phone": "+7 913 123-45-67"}
    assert _signed(hooks, "/hooks/site-chat", body, None).status_code == 401
    assert _signed(hooks, "/hooks/site-chat", body, "wrong").status_code == 403
    assert hooks.event_count() == 0
    secret = "development-site-chat-secret"
    outcomes = [_outcomes(_signed(hooks, "/hooks/site-chat", body, secret))[0] for _ in range(3)]
    assert outcomes == ["started", "duplicate", "duplicate"]
    (lead,) = hooks.instances("lead_echo")
    assert lead.variables["first"]["phone"] == "+79131234567"
    missing = _signed(hooks, "/hooks/site-chat", {"text": "no ids"}, secret)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_payload"


def test_a_call_starts_a_lead_tagged_with_the_called_line(hooks: Hooks) -> None:
    _deploy_lead(hooks)
    secret = "development-calls-secret"
    started = {
        "event": "call_started",
        "call_id": "c-1",
        "caller": "+7 999 000-11-22",
        "called_line": "+7 383 200-00-01",
    }
    assert _signed(hooks, "/hooks/calls", started, "wrong").status_code == 403
    outcomes = [_outcomes(_signed(hooks, "/hooks/calls", started, secret))[0] for _ in range(3)]
    assert outcomes == ["started", "duplicate", "duplicate"]
    (lead,) = hooks.instances("lead_echo")
    first = lead.variables["first"]
    assert (first["channel"], first["contact"]) == ("call", "+79990001122")
    assert first["called_line"] == "+73832000001" and first["text"] == ""
    ended = started | {"event": "call_ended", "duration": 95}
    assert _outcomes(_signed(hooks, "/hooks/calls", ended, secret)) == ["unmatched"]
    unmatched = [e for e in hooks.events("calls") if e.outcome == "unmatched"]
    assert unmatched[0].payload["message"] == "call_ended"


def test_an_event_with_no_process_is_kept_as_unmatched(hooks: Hooks) -> None:
    body = {"id": "sc-2", "visitor_id": "v-1", "text": "Алло"}
    response = _signed(hooks, "/hooks/site-chat", body, "development-site-chat-secret")
    assert _outcomes(response) == ["unmatched"]
    (event,) = hooks.events("site_chat")
    assert event.external_id == "sc-2" and event.payload["correlation"] == {
        "channel": "site_chat",
        "contact": "v-1",
    }


def test_unmatched_events_are_listed_by_the_cli(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"id": "sc-3", "visitor_id": "v-2", "text": "Есть кто?"}
    _signed(hooks, "/hooks/site-chat", body, "development-site-chat-secret")
    monkeypatch.setattr(cli, "session_factory", lambda: hooks.factory)
    result = CliRunner().invoke(cli.app, ["hooks", "events", "--outcome", "unmatched"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert "site_chat" in line and "sc-3" in line and '"message": "inbound_message"' in line
