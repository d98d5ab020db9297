"""What every connector shares: the error tree, the config base, one HTTP client per account.

Errors are translated here, at the boundary, so no httpx exception or raw status code ever
reaches a handler:

    ConnectorError(Exception)         system, status_code, vendor_message, vendor_code, retry_after
    ├── TransientConnectorError       try again later with backoff (the worker layer retries):
    │                                 timeouts, connection errors, 408, 425, 429, 5xx,
    │                                 a 2xx answer whose body is not the JSON we expect,
    │                                 vendor codes documented as "busy / rate limited"
    └── PermanentConnectorError       retrying the same request cannot help: other 4xx,
                                      in-band business errors (Nova Poshta success:false …),
                                      a misconfigured URL

Why a malformed 2xx body is *transient*: in practice it is a proxy's HTML page, a truncated
answer or a gateway hiccup, not a stable property of the request. Whether the operation
happened is unknown, and every create call in `connectors/` is safe to repeat (vendor
idempotency keys or a lookup before re-create), so retrying is the safe default; when retries
run out the worker still turns it into a visible incident. A permanent error would instead turn
a flaky gateway into manual work.

`BaseClient` holds ONE `httpx.Client` with explicit timeouts (connect 5 s, read 15 s) and an
injectable transport (`httpx.MockTransport` in tests). Clients never loop on errors: the only
re-send is the OAuth one (`ClientCredentialsAuth`: a 401 with a cached token fetches a new
token and repeats the request once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

SANDBOX_ROOT = "http://127.0.0.1:8000/sandbox"
"""Where the sandbox doubles live in a default install; every config's base_url starts here."""

TRANSIENT_STATUSES = frozenset({408, 425, 429})
_MAX_TEXT = 300


class ConnectorError(Exception):
    """An external system failed; `vendor_message` is what the vendor said, verbatim."""

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status_code: int | None = None,
        vendor_message: str | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.status_code = status_code
        self.vendor_message = vendor_message
        self.vendor_code = vendor_code
        self.retry_after = retry_after


class TransientConnectorError(ConnectorError):
    """Worth retrying later (honour `retry_after` when the vendor gave one)."""


class PermanentConnectorError(ConnectorError):
    """The same request will fail again: an incident or a BPMN error, never a retry."""


class ConnectorConfig(BaseModel):
    """Settings every connector has; subclasses add credentials as `SecretStr`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 15.0

    def timeout(self) -> httpx.Timeout:
        """Explicit timeouts: connect, read, write and pool are never unbounded."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)


ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)


class BaseClient(Generic[ConfigT]):
    """One `httpx.Client` for one account; `_request()` returns parsed JSON or raises the tree."""

    system: ClassVar[str] = "unknown"

    def __init__(
        self,
        config: ConfigT,
        *,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.config = config
        self._http = httpx.Client(
            base_url=config.base_url,
            timeout=config.timeout(),
            transport=transport,
            headers=dict(headers or {}),
            auth=auth,
        )

    # --- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the one way out --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for an empty 2xx)."""
        response = self._send(method, path, json=json, params=params, data=data, headers=headers)
        if not self._is_success(response):
            raise self._error_from_response(response)
        body = self._decode(response)
        self._check_body(body, response)
        return body

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise self._transient(f"timed out ({type(exc).__name__})") from exc
        except (httpx.UnsupportedProtocol, httpx.TooManyRedirects, httpx.InvalidURL) as exc:
            raise PermanentConnectorError(self.system, f"misconfigured: {exc}") from exc
        except httpx.RequestError as exc:
            raise self._transient(f"connection failed ({type(exc).__name__}: {exc})") from exc

    def _decode(self, response: httpx.Response) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise self._transient(
                f"malformed JSON in a {response.status_code} answer: {_snippet(response)}",
                status_code=response.status_code,
            ) from exc

    # --- hooks a vendor overrides -----------------------------------------------------------

    def _is_success(self, response: httpx.Response) -> bool:
        return 200 <= response.status_code < 300

    def _check_body(self, body: Any, response: httpx.Response) -> None:
        """Raise for errors a vendor reports inside a 2xx answer (none by default)."""

    def _describe_error(self, body: Any) -> tuple[str | None, str | None]:
        """(message, code) from the vendor's error shape; None where the shape is unknown."""
        if isinstance(body, dict):
            for key in ("description", "message", "error_description", "error", "detail"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value, None
        return None, None

    def _retry_after(self, response: httpx.Response, body: Any) -> float | None:
        return parse_retry_after(response.headers.get("Retry-After"))

    def _is_transient_status(self, status: int, code: str | None) -> bool:
        return status in TRANSIENT_STATUSES or status >= 500

    # --- building errors --------------------------------------------------------------------

    def _error_from_response(self, response: httpx.Response) -> ConnectorError:
        body = _try_json(response)
        message, code = self._describe_error(body) if body is not None else (None, None)
        vendor_message = message or _snippet(response) or response.reason_phrase
        status = response.status_code
        if self._is_transient_status(status, code):
            return self._transient(
                f"HTTP {status}: {vendor_message}",
                status_code=status,
                vendor_message=vendor_message,
                vendor_code=code,
                retry_after=self._retry_after(response, body),
            )
        return self._permanent(
            f"HTTP {status}: {vendor_message}",
            status_code=status,
            vendor_message=vendor_message,
            vendor_code=code,
        )

    def _transient(self, message: str, **details: Any) -> TransientConnectorError:
        return TransientConnectorError(self.system, message, **details)

    def _permanent(self, message: str, **details: Any) -> PermanentConnectorError:
        return PermanentConnectorError(self.system, message, **details)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return max(float(value), 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _try_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(response: httpx.Response) -> str:
    return response.text.strip()[:_MAX_TEXT]


class ClientCredentialsAuth(httpx.Auth):
    """OAuth 2 client_credentials: fetch a token, renew it before expiry, and once on a 401.

    A failed token answer is handed back as the response, so `_request()` translates it
    like any other vendor error (a wrong secret is a Permanent 401 with the vendor's text).
    """

    requires_response_body = True

    def __init__(
        self,
        system: str,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._system = system
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = False
        if self._token is None or self._clock() >= self._expires_at:
            if not self._accept((yield self._token_request(request))):
                return
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            # The vendor revoked or expired our token early: one new token, one more try.
            self._token = None
            if not self._accept((yield self._token_request(request))):
                return
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self, original: httpx.Request) -> httpx.Request:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        # A request built here bypasses the client's defaults: carry its timeouts over, or the
        # token call could hang forever.
        timeout = original.extensions.get("timeout")
        extensions = {"timeout": timeout} if timeout is not None else {}
        return httpx.Request("POST", self._token_url, data=form, extensions=extensions)

    def _accept(self, response: httpx.Response) -> bool:
        if not 200 <= response.status_code < 300:
            return False
        body = _try_json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientConnectorError(
                self._system,
                f"token endpoint answered without access_token: {_snippet(response)}",
                status_code=response.status_code,
            )
        self._token = token
        expires_in = float(body.get("expires_in") or 3600)
        self._expires_at = self._clock() + max(expires_in - self._margin, 0.0)
        return True


class OAuthConfig(ConnectorConfig):
    """A connector that signs in with OAuth 2 client_credentials (CDEK, Avito)."""

    client_id: str
    client_secret: SecretStr


OAuthConfigT = TypeVar("OAuthConfigT", bound=OAuthConfig)


class OAuthClient(BaseClient[OAuthConfigT]):
    """A client whose token comes from `<base_url><token_path>` (see ClientCredentialsAuth)."""

    token_path: ClassVar[str] = "/oauth/token"

    def __init__(
        self, config: OAuthConfigT, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        auth = ClientCredentialsAuth(
            self.system,
            f"{config.base_url.rstrip('/')}{self.token_path}",
            config.client_id,
            config.client_secret,
        )
        super().__init__(config, transport=transport, auth=auth)


ClientT = TypeVar("ClientT", bound=BaseClient[Any])


class ClientPool(Generic[ClientT]):
    """One client per configured account (zzap shops, Telegram bots), looked up by name."""

    def __init__(self, system: str, names: Iterable[str], factory: Callable[[str], ClientT]):
        self._system = system
        self._clients = {name: factory(name) for name in names}

    def get(self, name: str) -> ClientT:
        """The client of account `name`; an unknown account is a configuration error."""
        try:
            return self._clients[name]
        except KeyError:
            known = ", ".join(sorted(self._clients)) or "none"
            raise PermanentConnectorError(
                self._system, f"no account {name!r} configured (known: {known})"
            ) from None

    def names(self) -> list[str]:
        """Configured account names, in configuration order."""
        return list(self._clients)

    def __iter__(self) -> Iterator[tuple[str, ClientT]]:
        return iter(self._clients.items())

    def close(self) -> None:
        """Close every account's client."""
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
