"""Avito Messenger: replies in a chat, webhook subscription, own-echo filtering."""

from connectors.avito.client import AvitoClient, is_own_echo
from connectors.avito.config import AvitoConfig

__all__ = ["AvitoClient", "AvitoConfig", "is_own_echo"]
