"""Telegram Bot API: messages with inline keyboards, edits, callback answers, webhooks."""

from connectors.telegram.client import InlineButton, TelegramClient, telegram_bots
from connectors.telegram.config import TelegramBotConfig, TelegramConfig

__all__ = ["InlineButton", "TelegramBotConfig", "TelegramClient", "TelegramConfig", "telegram_bots"]
