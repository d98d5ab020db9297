"""Russian Post "Отправка": tariff and shipments in the backlog."""

from connectors.russian_post.client import RussianPostClient
from connectors.russian_post.config import RussianPostConfig

__all__ = ["RussianPostClient", "RussianPostConfig"]
