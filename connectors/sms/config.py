"""SMS gateway settings: which provider, and its credentials; defaults use the sandbox."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_API_ID = "sandbox-smsru-api-id"
SANDBOX_LOGIN = "sandbox-shop"
SANDBOX_PASSWORD = "sandbox-password"


class SmsConfig(ConnectorConfig):
    """One gateway account. Real: base_url `https://sms.ru` (smsru) or `https://smsc.ru` (smsc)."""

    provider: Literal["smsru", "smsc"] = "smsru"
    base_url: str = f"{SANDBOX_ROOT}/sms"
    api_id: SecretStr = SecretStr(SANDBOX_API_ID)  # SMS.ru
    login: str = SANDBOX_LOGIN  # SMSC
    password: SecretStr = SecretStr(SANDBOX_PASSWORD)  # SMSC
    sender: str | None = None  # an approved sender name; None: the provider's default
    test: bool = False  # SMS.ru test=1: checked and answered, never sent or charged
