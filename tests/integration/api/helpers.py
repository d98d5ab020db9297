"""Helpers for API tests: the test user record and the error-body assertion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class TestUser:
    """A user created for a test, with a token to call the API as them."""

    __test__ = False  # not a test class, despite the name

    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error body with `code` at `status`; return the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    error: dict[str, Any] = body["error"]
    return error
