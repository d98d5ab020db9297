"""Nova Poshta account settings; the defaults point at the sandbox double and its sender."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, ConnectorConfig

SANDBOX_API_KEY = "sandbox-novaposhta-key"
KYIV_REF = "8d5a980d-391c-11dd-90d9-001a92567626"
LVIV_REF = "db5c88f5-391c-11dd-90d9-001a92567626"
SENDER_REF = "5953fb16-08d8-11e4-8958-0025909b4e33"
SENDER_CONTACT_REF = "a0cd5cbd-8ee5-11e4-a4df-005056887b8d"
SENDER_ADDRESS_REF = "1ec09d88-e1c2-11e3-8c4a-0050568002cf"


class NovaPoshtaConfig(ConnectorConfig):
    """One account. Real service: base_url `https://api.novaposhta.ua/v2.0/json/`."""

    base_url: str = f"{SANDBOX_ROOT}/nova_poshta/v2.0/json/"
    api_key: SecretStr = SecretStr(SANDBOX_API_KEY)
    # The shop as sender: refs from Counterparty.getCounterparties / getCounterpartyAddresses.
    sender_city_ref: str = KYIV_REF
    sender_ref: str = SENDER_REF
    sender_address_ref: str = SENDER_ADDRESS_REF
    sender_contact_ref: str = SENDER_CONTACT_REF
    sender_phone: str = "380501112233"
    language: str = "UA"
