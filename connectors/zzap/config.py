"""zzap.ru accounts (Auto3.ru has several shops on zzap); the defaults use the sandbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_ACCOUNTS = {
    "auto3-main": ("auto3-main", "sandbox-password-1", "sandbox-api-key-1"),
    "auto3-second": ("auto3-second", "sandbox-password-2", "sandbox-api-key-2"),
}


class ZzapAccount(BaseModel):
    """One zzap shop's credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    login: str
    password: SecretStr
    api_key: SecretStr


def _sandbox_accounts() -> dict[str, ZzapAccount]:
    return {
        name: ZzapAccount(login=login, password=SecretStr(password), api_key=SecretStr(key))
        for name, (login, password, key) in SANDBOX_ACCOUNTS.items()
    }


class ZzapConfig(ConnectorConfig):
    """All zzap accounts. Real: base_url `https://api.zzap.pro/webservice/datasharing.asmx`."""

    base_url: str = f"{SANDBOX_ROOT}/zzap/webservice/datasharing.asmx"
    accounts: dict[str, ZzapAccount] = Field(default_factory=_sandbox_accounts)
    # The date format of date_from/date_to is [unconfirmed] in the reference.
    date_format: str = "%d.%m.%Y %H:%M:%S"
    row_count: int = Field(default=1000, ge=1, le=10_000)
