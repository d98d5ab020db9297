"""MoySklad account settings; the defaults point at the sandbox double and its fixed entities."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_TOKEN = "sandbox-moysklad-token"
SANDBOX_LOGIN = "admin@sandbox"
SANDBOX_PASSWORD = "sandbox-password"
# Entities every MoySklad account has; the double serves them under these fixed ids.
ORGANIZATION_ID = "0b4f3b26-0000-4000-8000-000000000001"
STORE_ID = "0b4f3b26-0000-4000-8000-000000000002"
RETAIL_AGENT_ID = "0b4f3b26-0000-4000-8000-000000000003"


class MoySkladConfig(ConnectorConfig):
    """One MoySklad account. Real service: base_url `https://api.moysklad.ru/api/remap/1.2`."""

    base_url: str = f"{SANDBOX_ROOT}/moysklad/api/remap/1.2"
    token: SecretStr = SecretStr(SANDBOX_TOKEN)
    organization_id: str = ORGANIZATION_ID
    store_id: str = STORE_ID
    # "Розничный покупатель": the counterparty used when an order names no customer.
    default_agent_id: str = RETAIL_AGENT_ID
    cancel_state: str = "Отменен"
    # Our own writes carry X-Lognex-WebHook-DisableByPrefix so MoySklad does not echo them back
    # to our webhook (set to the public URL prefix of potok's /hooks/moysklad).
    webhook_disable_prefix: str | None = None
