"""The shared pieces: Retry-After parsing, the OAuth token life cycle, account pools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import (
    BaseClient,
    ClientCredentialsAuth,
    ClientPool,
    ConnectorConfig,
    PermanentConnectorError,
    TransientConnectorError,
    parse_retry_after,
)
from tests.unit.connectors.contract import FakeVendor


def test_retry_after_seconds_date_and_garbage() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-1") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later) == pytest.approx(30, abs=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth_client(vendor: FakeVendor, clock: Clock) -> BaseClient[ConnectorConfig]:
    config = ConnectorConfig(base_url="https://vendor.example/api", read_timeout=3.0)
    auth = ClientCredentialsAuth(
        "vendor", "https://vendor.example/token", "id", SecretStr("secret"), clock=clock
    )
    return BaseClient(config, transport=vendor.transport(), auth=auth)


def test_token_is_renewed_a_minute_before_it_expires() -> None:
    issued = iter(["a", "b"])
    vendor = FakeVendor(
        {
            "POST /token": lambda r: httpx.Response(
                200, json={"access_token": next(issued), "expires_in": 600}
            ),
            "GET /api/thing": {"ok": True},
        }
    )
    clock = Clock()
    with oauth_client(vendor, clock) as client:
        client._request("GET", "/thing")
        clock.now += 539  # 600 s - 60 s margin not reached yet
        client._request("GET", "/thing")
        clock.now += 2
        client._request("GET", "/thing")
    bearers = [r.headers.get("Authorization") for r in vendor.requests if r.method == "GET"]
    assert bearers == ["Bearer a", "Bearer a", "Bearer b"]


def test_token_request_keeps_the_client_timeouts() -> None:
    vendor = FakeVendor({"POST /token": {"access_token": "a"}, "GET /api/thing": {}})
    with oauth_client(vendor, Clock()) as client:
        client._request("GET", "/thing")
    assert vendor.requests[0].extensions["timeout"]["read"] == 3.0


def test_secret_never_appears_in_errors() -> None:
    vendor = FakeVendor({"POST /token": (401, {"error": "invalid_client"})})
    with oauth_client(vendor, Clock()) as client, pytest.raises(PermanentConnectorError) as err:
        client._request("GET", "/thing")
    assert "secret" not in str(err.value)


def test_misconfigured_url_is_permanent_not_retried() -> None:
    client = BaseClient(ConnectorConfig(base_url="ftp://nowhere.example"))
    with client, pytest.raises(PermanentConnectorError, match="misconfigured"):
        client._request("GET", "/x")


def test_empty_2xx_is_none_and_redirect_is_an_error() -> None:
    vendor = FakeVendor({"DELETE /api/x": lambda r: httpx.Response(204), "GET /api/x": (302, {})})
    client = BaseClient(
        ConnectorConfig(base_url="https://v.example/api"), transport=vendor.transport()
    )
    with client:
        assert client._request("DELETE", "/x") is None
        with pytest.raises(PermanentConnectorError):
            client._request("GET", "/x")


def test_pool_has_one_client_per_account_and_names_unknown_ones() -> None:
    made: list[str] = []

    def factory(name: str) -> BaseClient[ConnectorConfig]:
        made.append(name)
        return BaseClient(ConnectorConfig(base_url=f"https://{name}.example"))

    with ClientPool("zzap", ["main", "second"], factory) as pool:
        assert pool.get("main") is pool.get("main")
        assert pool.names() == ["main", "second"] == made
        with pytest.raises(PermanentConnectorError, match="known: main, second"):
            pool.get("third")


def test_error_tree() -> None:
    assert issubclass(TransientConnectorError, Exception)
    error = TransientConnectorError("cdek", "HTTP 429", status_code=429, retry_after=2.0)
    assert str(error) == "cdek: HTTP 429"
    assert (error.system, error.status_code, error.retry_after) == ("cdek", 429, 2.0)
