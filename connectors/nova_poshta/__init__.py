"""Nova Poshta API 2.0: branches directory, recipients, waybills (TTN), tracking."""

from connectors.nova_poshta.client import NovaPoshtaClient
from connectors.nova_poshta.config import NovaPoshtaConfig

__all__ = ["NovaPoshtaClient", "NovaPoshtaConfig"]
