"""Avito account settings; the defaults point at the sandbox double."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, OAuthConfig

SANDBOX_CLIENT_ID = "sandbox-avito-client"
SANDBOX_CLIENT_SECRET = "sandbox-avito-secret"
SANDBOX_USER_ID = "300100100"


class AvitoConfig(OAuthConfig):
    """One Avito account. Real service: base_url `https://api.avito.ru`."""

    base_url: str = f"{SANDBOX_ROOT}/avito"
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    user_id: str = SANDBOX_USER_ID  # the shop's own Avito user id (author of our messages)
    # The subscribe endpoint is [unconfirmed] in the reference: kept as a named setting.
    webhook_subscribe_path: str = "/messenger/v3/webhook"
