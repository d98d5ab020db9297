"""The failure contract every connector client must honour, run once per client and scenario.

A client file lists its `Contract`s (how one representative call looks on the wire: the
vendor's success body and error shape) and gets the whole matrix with
`test_contract = contract_test(...)`:

success · 4xx → Permanent with the vendor's message · 5xx → Transient · read timeout →
Transient · 429 → Transient with retry_after · malformed JSON in a 2xx → Transient ·
connection refused → Transient.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.base import (
    BaseClient,
    ConnectorError,
    PermanentConnectorError,
    TransientConnectorError,
)

Handler = Callable[[httpx.Request], httpx.Response]
VENDOR_SAYS = "vendor says: no such thing"


@dataclass(frozen=True)
class Contract:
    """One client call as the vendor sees it."""

    name: str
    make: Callable[[httpx.BaseTransport], BaseClient[Any]]
    call: Callable[[Any], Any]
    ok: Any
    error: Callable[[str], Any]
    check: Callable[[Any], object] = lambda result: result is not None
    rate_limit_headers: dict[str, str] = field(default_factory=lambda: {"Retry-After": "7"})
    retry_after: float = 7.0
    # Vendors with OAuth answer the token request first: wrap the scenario's handler.
    wrap: Callable[[Handler], Handler] = lambda handler: handler


def _respond(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def _raise(exc_type: type[httpx.RequestError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated by the test", request=request)

    return handler


def _call(contract: Contract, handler: Handler) -> Any:
    client = contract.make(httpx.MockTransport(contract.wrap(handler)))
    with client:
        return contract.call(client)


def _failure(contract: Contract, handler: Handler) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        _call(contract, handler)
    return caught.value


def scenario_success(contract: Contract) -> None:
    result = _call(contract, _respond(200, contract.ok))
    assert contract.check(result), f"{contract.name}: unexpected result {result!r}"


def scenario_client_error(contract: Contract) -> None:
    error = _failure(contract, _respond(400, contract.error(VENDOR_SAYS)))
    assert isinstance(error, PermanentConnectorError)
    assert error.status_code == 400
    assert error.vendor_message is not None and VENDOR_SAYS in error.vendor_message


def scenario_server_error(contract: Contract) -> None:
    error = _failure(contract, _respond(503, contract.error(VENDOR_SAYS)))
    assert isinstance(error, TransientConnectorError)
    assert error.status_code == 503
    assert error.vendor_message is not None and VENDOR_SAYS in error.vendor_message


def scenario_timeout(contract: Contract) -> None:
    error = _failure(contract, _raise(httpx.ReadTimeout))
    assert isinstance(error, TransientConnectorError)
    assert "timed out" in str(error)


def scenario_connection_refused(contract: Contract) -> None:
    error = _failure(contract, _raise(httpx.ConnectError))
    assert isinstance(error, TransientConnectorError)


def scenario_rate_limited(contract: Contract) -> None:
    handler = _respond(429, contract.error("Too Many Requests"), contract.rate_limit_headers)
    error = _failure(contract, handler)
    assert isinstance(error, TransientConnectorError)
    assert error.status_code == 429
    assert error.retry_after == pytest.approx(contract.retry_after)


def scenario_malformed_json(contract: Contract) -> None:
    error = _failure(contract, _respond(200, b"<html>502 Bad Gateway</html"))
    assert isinstance(error, TransientConnectorError)
    assert "malformed JSON" in str(error)


SCENARIOS = [
    scenario_success,
    scenario_client_error,
    scenario_server_error,
    scenario_timeout,
    scenario_connection_refused,
    scenario_rate_limited,
    scenario_malformed_json,
]


def contract_test(*contracts: Contract) -> Callable[..., None]:
    """A test function parametrized over `contracts` × every scenario."""

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__[9:])
    @pytest.mark.parametrize("contract", contracts, ids=lambda c: c.name)
    def test_contract(contract: Contract, scenario: Callable[[Contract], None]) -> None:
        scenario(contract)

    return test_contract


class FakeVendor:
    """A MockTransport handler answering by "METHOD /path-suffix"; records every request."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for route, answer in self.routes.items():
            method, _, suffix = route.partition(" ")
            if request.method == method and request.url.path.endswith(suffix):
                if callable(answer):
                    return answer(request)  # type: ignore[no-any-return]
                status, body = answer if isinstance(answer, tuple) else (200, answer)
                return httpx.Response(status, json=body)
        return httpx.Response(
            404, json={"error": f"no fake route for {request.method} {request.url}"}
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def body(self, index: int) -> Any:
        """The JSON body of the index-th request."""
        return json.loads(self.requests[index].content)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]
