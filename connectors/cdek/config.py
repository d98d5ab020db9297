"""CDEK integration settings; the defaults point at the sandbox double."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.base import SANDBOX_ROOT, OAuthConfig

SANDBOX_CLIENT_ID = "sandbox-cdek-client"
SANDBOX_CLIENT_SECRET = "sandbox-cdek-secret"


class CdekConfig(OAuthConfig):
    """One CDEK contract. Real: base_url `https://api.cdek.ru/v2`; test `https://api.edu.cdek.ru/v2`."""

    base_url: str = f"{SANDBOX_ROOT}/cdek/v2"
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    # Order registration is asynchronous: how often and how long to poll before giving the
    # job back to the worker (which retries; the im_number lookup then finds the order).
    poll_interval: float = 1.0
    max_polls: int = 10
