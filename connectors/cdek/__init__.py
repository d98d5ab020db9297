"""CDEK API v2: OAuth token, asynchronous order creation with polling, status, tariff, webhooks."""

from connectors.cdek.client import CdekClient
from connectors.cdek.config import CdekConfig

__all__ = ["CdekClient", "CdekConfig"]
