"""YooKassa shop settings; the defaults point at the sandbox double."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_SHOP_ID = "100500"
SANDBOX_SECRET_KEY = "test_sandbox_secret_key"


class YooKassaConfig(ConnectorConfig):
    """One shop. Real service: base_url `https://api.yookassa.ru/v3`, a `test_…` key for tests."""

    base_url: str = f"{SANDBOX_ROOT}/yookassa/v3"
    shop_id: str = SANDBOX_SHOP_ID
    secret_key: SecretStr = SecretStr(SANDBOX_SECRET_KEY)
    currency: str = "RUB"
    # Where the customer lands after paying, unless a call names another page.
    return_url: str = "http://127.0.0.1:8000/"
