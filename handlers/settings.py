"""Configuration of the handlers: every connector's account plus the business knobs.

Each connector block is read from the environment with a double underscore between levels,
e.g. `POTOK_MOYSKLAD__TOKEN`, `POTOK_YOOKASSA__SHOP_ID`, `POTOK_CDEK__BASE_URL`. A block left
alone points at its sandbox double on this installation (`http://<host>:<port>/sandbox/…`,
host and port from `engine.settings`), so a fresh install runs offline; switching to the real
service changes only the base URL and the credentials (`connectors/README.md`).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.avito.config import AvitoConfig
from connectors.base import SANDBOX_ROOT, ConnectorConfig
from connectors.cdek.config import CdekConfig
from connectors.moysklad.config import MoySkladConfig
from connectors.nova_poshta.config import NovaPoshtaConfig
from connectors.russian_post.config import RussianPostConfig
from connectors.sms.config import SmsConfig
from connectors.telegram.config import TelegramConfig
from connectors.whatsapp.config import WhatsAppConfig
from connectors.yookassa.config import YooKassaConfig
from engine.settings import Settings, get_settings

CONNECTORS = (
    "moysklad",
    "yookassa",
    "cdek",
    "russian_post",
    "nova_poshta",
    "sms",
    "telegram",
    "whatsapp",
    "avito",
)
# Hosts a server listens on but a client cannot call: the doubles are then on the loopback.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class SiteChatConfig(ConnectorConfig):
    """The shop's own site-chat widget backend, which shows our replies to the visitor.

    potok POSTs `{"contact", "text", "message_id"}` to `reply_url`, signed like the inbound
    hook (`X-Potok-Signature: sha256=<HMAC of the body with secret>`). Without a reply_url a
    site-chat reply goes out as SMS when the visitor gave a phone.
    """

    base_url: str = ""
    reply_url: str | None = None
    secret: SecretStr = SecretStr("development-site-chat-secret")


class HandlerSettings(BaseSettings):
    """Connector accounts and business defaults of the service-task handlers."""

    model_config = SettingsConfigDict(
        env_prefix="POTOK_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    moysklad: MoySkladConfig = Field(default_factory=MoySkladConfig)
    yookassa: YooKassaConfig = Field(default_factory=YooKassaConfig)
    cdek: CdekConfig = Field(default_factory=CdekConfig)
    russian_post: RussianPostConfig = Field(default_factory=RussianPostConfig)
    nova_poshta: NovaPoshtaConfig = Field(default_factory=NovaPoshtaConfig)
    sms: SmsConfig = Field(default_factory=SmsConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    avito: AvitoConfig = Field(default_factory=AvitoConfig)
    site_chat: SiteChatConfig = Field(default_factory=SiteChatConfig)

    # The Telegram bot customers write to (its chats are leads; notify.message answers there).
    telegram_customer_bot: str = "customers"
    # Loyalty bonus in percent of the paid sum, when a process passes no percent itself.
    loyalty_percent: Decimal = Decimal("3")
    # Fiscal receipts (54-FZ): VAT code of every line (1 = without VAT) and its subject.
    receipt_vat_code: int = 1
    receipt_payment_subject: str = "commodity"
    # CDEK: where parcels leave from, and the tariffs to a door / to a pick-up point.
    cdek_from_city: str = "Москва"
    cdek_tariff_to_door: int = 137
    cdek_tariff_to_point: int = 136
    # Russian Post: the kind of parcel created for an order.
    russian_post_mail_type: str = "POSTAL_PARCEL"
    # The shop's own courier: the price and the first day it can deliver (days from today),
    # and how many days ahead its calendar offers (the directory of courier dates).
    courier_price: Decimal = Decimal("300")
    courier_min_days: int = 2
    courier_window_days: int = 5
    # Packages when an order gives no dimensions (cm).
    package_dimensions: tuple[int, int, int] = (30, 20, 20)


def sandbox_root(settings: Settings) -> str:
    """Where this installation serves the doubles, as a client can call it."""
    host = "127.0.0.1" if settings.host in _WILDCARD_HOSTS else settings.host
    return f"http://{host}:{settings.port}/sandbox"


def point_at_sandbox(handlers: HandlerSettings, root: str) -> HandlerSettings:
    """Every connector still on the default sandbox URL moved to `root` (another port)."""
    changes: dict[str, Any] = {}
    for name in CONNECTORS:
        config: ConnectorConfig = getattr(handlers, name)
        if config.base_url.startswith(SANDBOX_ROOT):
            base_url = root + config.base_url.removeprefix(SANDBOX_ROOT)
            changes[name] = config.model_copy(update={"base_url": base_url})
    return handlers.model_copy(update=changes)


@lru_cache(maxsize=1)
def get_handler_settings() -> HandlerSettings:
    """The process-wide handler settings, defaults pointed at this installation's doubles."""
    return point_at_sandbox(HandlerSettings(), sandbox_root(get_settings()))
