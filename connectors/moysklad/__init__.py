"""MoySklad JSON API 1.2: orders with reserve, states, demand, paymentin, stock, webhooks."""

from connectors.moysklad.client import MoySkladClient, OrderLine
from connectors.moysklad.config import MoySkladConfig

__all__ = ["MoySkladClient", "MoySkladConfig", "OrderLine"]
