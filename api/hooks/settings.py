"""Secrets and trust rules of the inbound webhooks (`POTOK_HOOKS_<NAME>` in the environment).

Vendor-issued secrets live with their connector (`POTOK_TELEGRAM__BOTS`,
`POTOK_WHATSAPP__APP_SECRET`, `POTOK_SITE_CHAT__SECRET`, …, see handlers.settings). Here:
the shared tokens of vendors that sign nothing (CDEK, Avito, MoySklad: `?token=` in the URL
we subscribe with), the telephony secret, and the networks YooKassa notifies from. A secret
left at its development default is refused in production: that hook then answers 403 until
a real secret is set.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# YooKassa's published notification sources (yookassa.ru/developers, "Уведомления").
YOOKASSA_NETWORKS = [
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
]
DEVELOPMENT_PREFIX = "development-"


class HookSettings(BaseSettings):
    """What the hooks check besides the connectors' own secrets."""

    model_config = SettingsConfigDict(env_prefix="POTOK_HOOKS_", env_file=".env", extra="ignore")

    calls_secret: SecretStr = SecretStr("development-calls-secret")
    cdek_token: SecretStr = SecretStr("development-cdek-token")
    avito_token: SecretStr = SecretStr("development-avito-token")
    moysklad_token: SecretStr = SecretStr("development-moysklad-token")
    yookassa_networks: list[str] = YOOKASSA_NETWORKS
    # Outside production the doubles notify from this machine: trust the loopback there.
    trust_loopback_outside_production: bool = True
    max_body_bytes: int = 1024 * 1024


def usable_secret(secret: SecretStr, *, env: str) -> str | None:
    """The secret's value, or None when it is a development default in production."""
    value = secret.get_secret_value()
    if not value or (env == "production" and value.startswith(DEVELOPMENT_PREFIX)):
        return None
    return value


def source_allowed(host: str | None, settings: HookSettings, *, env: str) -> bool:
    """Whether a YooKassa notification may come from `host`."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if address.is_loopback and settings.trust_loopback_outside_production:
        return env != "production"
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.yookassa_networks
    )


@lru_cache(maxsize=1)
def get_hook_settings() -> HookSettings:
    """The process-wide hook settings."""
    return HookSettings()
