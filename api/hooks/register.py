"""Tell each vendor where potok's hooks are (`potok hooks register --public-url https://…`).

Telegram (every configured bot, with its secret token), CDEK (ORDER_STATUS), MoySklad
(customer order UPDATE) and Avito are subscribed through their APIs, with `?token=` in the
URL of the vendors that sign nothing. YooKassa and WhatsApp are configured in the vendor's
dashboard (their doubles: `SandboxSettings.webhook_url`, set by `api.app`); the result names
the URL to enter there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.hooks.settings import HookSettings
from connectors.base import ConnectorError
from handlers.clients import Clients


def hook_urls(public_url: str, settings: HookSettings, bots: list[str]) -> dict[str, str]:
    """The URL of every hook, as the vendors must call it."""
    root = public_url.rstrip("/") + "/hooks"
    urls = {f"telegram:{bot}": f"{root}/telegram/{bot}" for bot in bots}
    urls |= {
        "cdek": f"{root}/cdek?token={settings.cdek_token.get_secret_value()}",
        "moysklad": f"{root}/moysklad?token={settings.moysklad_token.get_secret_value()}",
        "avito": f"{root}/avito?token={settings.avito_token.get_secret_value()}",
        "yookassa": f"{root}/yookassa",
        "whatsapp": f"{root}/whatsapp",
        "site-chat": f"{root}/site-chat",
        "calls": f"{root}/calls",
    }
    return urls


def register_webhooks(public_url: str, clients: Clients, settings: HookSettings) -> dict[str, str]:
    """Subscribe every vendor that has an API for it; `{name: "ok" | "dashboard: <url>" |
    "failed: <why>"}` (one vendor failing does not stop the others)."""
    bots = list(clients.settings.telegram.bots)
    urls = hook_urls(public_url, settings, bots)
    calls: dict[str, Callable[[], Any]] = {
        f"telegram:{bot}": _telegram(clients, bot, urls[f"telegram:{bot}"]) for bot in bots
    }
    calls["cdek"] = lambda: clients.cdek().subscribe_webhook(urls["cdek"])
    calls["moysklad"] = lambda: clients.moysklad().register_webhook(
        url=urls["moysklad"], action="UPDATE", entity_type="customerorder"
    )
    calls["avito"] = lambda: clients.avito().subscribe_webhook(urls["avito"])
    done: dict[str, str] = {}
    for name, call in calls.items():
        try:
            call()
            done[name] = "ok"
        except ConnectorError as exc:
            done[name] = f"failed: {exc}"
    for name in ("yookassa", "whatsapp", "site-chat", "calls"):
        done[name] = f"dashboard: {urls[name]}"
    return done


def _telegram(clients: Clients, bot: str, url: str) -> Callable[[], Any]:
    return lambda: clients.telegram(bot).set_webhook(url)
