"""One connector client per external system per process, created on first use.

Nothing connects at import time. A worker process (or a forked pool child) builds each client
the first time a handler needs it and keeps it — one `httpx.Client` per account, reusing its
connections. Tests and the sandbox-backed demos swap the whole set:

    with use_clients(Clients(settings, transport=httpx.MockTransport(answer))):
        ...                          # every handler now talks to the mock

A job can also carry its own set in `ctx.services["clients"]` (`engine.jobs.run_job(services=)`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from connectors.avito.client import AvitoClient
from connectors.base import BaseClient, PermanentConnectorError
from connectors.cdek.client import CdekClient
from connectors.moysklad.client import MoySkladClient
from connectors.nova_poshta.client import NovaPoshtaClient
from connectors.russian_post.client import RussianPostClient
from connectors.sandbox_store import SandboxStore
from connectors.sms.client import SmscClient, SmsRuClient, make_sms_client
from connectors.telegram.client import TelegramClient
from connectors.whatsapp.client import WhatsAppClient
from connectors.yookassa.client import YooKassaClient
from engine.operators import HandlerContext
from handlers.ledger import LoyaltyLedger
from handlers.settings import HandlerSettings, SiteChatConfig, get_handler_settings

T = TypeVar("T")


class CdekTracking(CdekClient):
    """The CDEK client plus a lookup by CDEK's own number (what customers call the track)."""

    def find_by_cdek_number(self, cdek_number: str) -> dict[str, Any] | None:
        """The order with this `cdek_number`, or None when CDEK has none."""
        try:
            return self._request("GET", "/orders", params={"cdek_number": cdek_number})
        except PermanentConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`: how potok signs (and checks) its own hooks."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SiteChatClient(BaseClient[SiteChatConfig]):
    """Replies to the shop's site-chat widget backend (`SiteChatConfig.reply_url`)."""

    system = "site_chat"

    def reply(self, contact: str, text: str, *, message_id: str) -> dict[str, Any]:
        """POST one reply, signed; returns the widget's answer (may be empty)."""
        url = self.config.reply_url
        if not url:
            raise self._permanent("no reply_url configured for the site chat")
        body = json.dumps(
            {"contact": contact, "text": text, "message_id": message_id}, ensure_ascii=False
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Potok-Signature": sign(self.config.secret.get_secret_value(), body),
        }
        response = self._send("POST", url, content=body, headers=headers)
        if not self._is_success(response):
            raise self._error_from_response(response)
        return self._decode(response) or {}


class Clients:
    """The connector clients of one process (or one test), each built on first use."""

    def __init__(
        self,
        settings: HandlerSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        ledger: LoyaltyLedger | None = None,
    ) -> None:
        self.settings = settings or get_handler_settings()
        self._transport = transport
        self._ledger = ledger
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _get(self, key: str, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            client: T = self._built[key]
            return client

    def moysklad(self) -> MoySkladClient:
        """The MoySklad account."""
        return self._get(
            "moysklad", lambda: MoySkladClient(self.settings.moysklad, transport=self._transport)
        )

    def yookassa(self) -> YooKassaClient:
        """The YooKassa shop."""
        return self._get(
            "yookassa", lambda: YooKassaClient(self.settings.yookassa, transport=self._transport)
        )

    def cdek(self) -> CdekTracking:
        """The CDEK contract."""
        return self._get(
            "cdek", lambda: CdekTracking(self.settings.cdek, transport=self._transport)
        )

    def russian_post(self) -> RussianPostClient:
        """The Russian Post "Отправка" account."""
        return self._get(
            "russian_post",
            lambda: RussianPostClient(self.settings.russian_post, transport=self._transport),
        )

    def nova_poshta(self) -> NovaPoshtaClient:
        """The Nova Poshta account."""
        return self._get(
            "nova_poshta",
            lambda: NovaPoshtaClient(self.settings.nova_poshta, transport=self._transport),
        )

    def sms(self) -> SmsRuClient | SmscClient:
        """The SMS gateway of the configured provider."""
        return self._get(
            "sms", lambda: make_sms_client(self.settings.sms, transport=self._transport)
        )

    def telegram(self, bot: str | None = None) -> TelegramClient:
        """One Telegram bot (default: the customers' bot)."""
        name = bot or self.settings.telegram_customer_bot
        return self._get(
            f"telegram:{name}",
            lambda: TelegramClient(self.settings.telegram, name, transport=self._transport),
        )

    def whatsapp(self) -> WhatsAppClient:
        """The WhatsApp business number."""
        return self._get(
            "whatsapp", lambda: WhatsAppClient(self.settings.whatsapp, transport=self._transport)
        )

    def avito(self) -> AvitoClient:
        """The Avito account."""
        return self._get(
            "avito", lambda: AvitoClient(self.settings.avito, transport=self._transport)
        )

    def site_chat(self) -> SiteChatClient:
        """The shop's site-chat widget backend."""
        return self._get(
            "site_chat",
            lambda: SiteChatClient(self.settings.site_chat, transport=self._transport),
        )

    def loyalty(self) -> LoyaltyLedger:
        """The loyalty ledger (in the configured database)."""
        return self._get("loyalty", self._default_ledger)

    def _default_ledger(self) -> LoyaltyLedger:
        if self._ledger is not None:
            return self._ledger
        from engine.db import get_engine, make_session_factory

        return LoyaltyLedger(SandboxStore(make_session_factory(get_engine())))

    def close(self) -> None:
        """Close every client built so far."""
        with self._lock:
            built, self._built = self._built, {}
        for client in built.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()


_state_lock = threading.Lock()
_process_clients: tuple[int, Clients] | None = None
_override: list[Clients] = []


def current_clients() -> Clients:
    """The clients handlers use now: an override (tests), else this process's own set."""
    global _process_clients
    if _override:
        return _override[-1]
    with _state_lock:
        # A forked worker child must not share its parent's connection pools.
        if _process_clients is None or _process_clients[0] != os.getpid():
            _process_clients = (os.getpid(), Clients())
        return _process_clients[1]


def clients_for(ctx: HandlerContext | None) -> Clients:
    """The clients of one handler call: the job's own set, if it carries one."""
    if ctx is not None:
        given = ctx.services.get("clients")
        if isinstance(given, Clients):
            return given
    return current_clients()


@contextmanager
def use_clients(clients: Clients) -> Iterator[Clients]:
    """Make `clients` the current set inside the block (then close them)."""
    with _state_lock:
        _override.append(clients)
    try:
        yield clients
    finally:
        with _state_lock:
            _override.remove(clients)
        clients.close()
