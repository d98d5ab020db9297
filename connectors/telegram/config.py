"""Telegram bots (several: the managers' order bot, the customers' bot); sandbox defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_BOTS = {
    "managers": ("700000001:sandbox-managers-bot-token", "sandbox-managers-secret"),
    "customers": ("700000002:sandbox-customers-bot-token", "sandbox-customers-secret"),
}


class TelegramBotConfig(BaseModel):
    """One bot: its token and the secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr
    webhook_secret: SecretStr


def _sandbox_bots() -> dict[str, TelegramBotConfig]:
    return {
        name: TelegramBotConfig(token=SecretStr(token), webhook_secret=SecretStr(secret))
        for name, (token, secret) in SANDBOX_BOTS.items()
    }


class TelegramConfig(ConnectorConfig):
    """All bots of the shop. Real service: base_url `https://api.telegram.org`."""

    base_url: str = f"{SANDBOX_ROOT}/telegram"
    bots: dict[str, TelegramBotConfig] = Field(default_factory=_sandbox_bots)
