"""WhatsApp Business number settings; the defaults point at the sandbox double."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_PHONE_NUMBER_ID = "100000000000001"
SANDBOX_ACCESS_TOKEN = "sandbox-whatsapp-access-token"
SANDBOX_APP_SECRET = "sandbox-whatsapp-app-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-whatsapp-verify-token"


class WhatsAppConfig(ConnectorConfig):
    """One business number. Real service: base_url `https://graph.facebook.com/v21.0`."""

    base_url: str = f"{SANDBOX_ROOT}/whatsapp/v21.0"
    phone_number_id: str = SANDBOX_PHONE_NUMBER_ID
    access_token: SecretStr = SecretStr(SANDBOX_ACCESS_TOKEN)
    # For inbound webhooks: the HMAC key of X-Hub-Signature-256 and the GET handshake token.
    app_secret: SecretStr = SecretStr(SANDBOX_APP_SECRET)
    verify_token: SecretStr = SecretStr(SANDBOX_VERIFY_TOKEN)
