"""YooKassa API v3: payments with a redirect confirmation URL, receipts, refunds."""

from connectors.yookassa.client import YooKassaClient, money
from connectors.yookassa.config import YooKassaConfig

__all__ = ["YooKassaClient", "YooKassaConfig", "money"]
