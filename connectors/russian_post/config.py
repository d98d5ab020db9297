"""Russian Post "Отправка" account settings; the defaults point at the sandbox double."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_ACCESS_TOKEN = "sandbox-pochta-token"
SANDBOX_LOGIN = "shop@sandbox"
SANDBOX_PASSWORD = "sandbox-password"


class RussianPostConfig(ConnectorConfig):
    """One account. Real service: base_url `https://otpravka-api.pochta.ru`."""

    base_url: str = f"{SANDBOX_ROOT}/russian_post"
    access_token: SecretStr = SecretStr(SANDBOX_ACCESS_TOKEN)
    login: str = SANDBOX_LOGIN
    password: SecretStr = SecretStr(SANDBOX_PASSWORD)
    # The post office the shop ships from (tariffs are calculated from it).
    index_from: str = "101000"
