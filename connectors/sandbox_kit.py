"""What every sandbox double shares: vendor-shaped errors, the fault gate, control endpoints.

A double is a small FastAPI app (`<system>/sandbox.py: create_sandbox_app(store)`) mounted at
`/sandbox/<system>`. Vendor routes go on a router with `fault_gate`, so an armed failure hits
exactly the calls a client makes; `/_control/*` is never failed:

    POST /_control/fail   {"mode": "500"|"timeout"|"429", "count": N}   next N calls fail
    POST /_control/reset                                                forget everything
    GET  /_control/state                                                what the double holds
    POST /_control/webhook {"url": ...}          where emitted notifications go (when emitting)

A "timeout" failure sleeps `SandboxSettings.timeout_delay` (longer than a client's read
timeout) and then answers 504 without doing the operation: the client has given up by then.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from connectors.sandbox_store import SandboxStore

CONFIG_KIND = "_config"
DELIVERY_KIND = "delivery"


class SandboxSettings(BaseModel):
    """Knobs of a double; the defaults suit `make run`, tests shorten the delays."""

    timeout_delay: float = 20.0
    retry_after: float = 1.0
    webhook_url: str | None = None
    webhook_timeout: float = 5.0


class VendorError(Exception):
    """Raised inside a double to answer with the vendor's own error shape."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class InjectedFault(Exception):
    """An armed failure consumed by this call."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode


class VendorStyle:
    """How a vendor phrases errors; each double subclasses it with the real shape."""

    def body(self, status: int, message: str, code: str | None) -> Any:
        return {"error": message, "code": code}

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        """A vendor-shaped error response."""
        return JSONResponse(self.body(status, message, code), status_code=status)

    def fail(self, status: int, message: str, code: str | None = None) -> VendorError:
        """The exception to raise for a vendor-shaped error."""
        return VendorError(self.error(status, message, code))

    def rate_limited(self, retry_after: float) -> Response:
        response = self.error(429, "Too Many Requests", "429")
        response.headers["Retry-After"] = str(int(retry_after) if retry_after >= 1 else 1)
        return response

    def server_error(self) -> Response:
        return self.error(500, "Internal Server Error (injected by the sandbox)", "500")

    def bad_request(self, detail: str) -> Response:
        return self.error(400, f"Bad request: {detail}", "400")

    def missing(self, field: str) -> VendorError:
        """The vendor's answer to a required field left out."""
        return self.fail(400, f"field '{field}' is required")


class FailRequest(BaseModel):
    mode: Literal["500", "timeout", "429"]
    count: int = Field(default=1, ge=1, le=1000)


class WebhookTarget(BaseModel):
    url: str


def build_app(
    *,
    system: str,
    store: SandboxStore,
    style: VendorStyle,
    settings: SandboxSettings,
    vendor: APIRouter,
    control: APIRouter | None = None,
    public: APIRouter | None = None,
) -> FastAPI:
    """Assemble a double: vendor routes behind the fault gate, control endpoints, and
    `public` pages a person opens (a checkout page) that are neither."""
    app = FastAPI(title=f"potok sandbox: {system}", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.system = system
    app.state.store = store
    app.state.settings = settings
    app.include_router(vendor, dependencies=[Depends(_fault_gate(system, store))])
    app.include_router(_control_router(system, store))
    if control is not None:
        app.include_router(control, prefix="/_control")
    if public is not None:
        app.include_router(public)
    _install_handlers(app, style, settings)
    return app


def _fault_gate(system: str, store: SandboxStore) -> Callable[[], None]:
    def gate() -> None:
        mode = store.take_fault(system)
        if mode is not None:
            raise InjectedFault(mode)

    return gate


def _install_handlers(app: FastAPI, style: VendorStyle, settings: SandboxSettings) -> None:
    async def on_vendor_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VendorError)
        return exc.response

    async def on_fault(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InjectedFault)
        if exc.mode == "429":
            return style.rate_limited(settings.retry_after)
        if exc.mode == "timeout":
            await asyncio.sleep(settings.timeout_delay)
            return style.error(504, "Gateway Timeout (injected by the sandbox)", "504")
        return style.server_error()

    async def on_invalid(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return style.bad_request(f"{where}: {first.get('msg', 'invalid')}")

    async def on_malformed(_request: Request, exc: Exception) -> Response:
        # Values of the wrong type deep inside a body ("quantity": "many"): the vendor answers
        # 400, never a 500 with a traceback.
        return style.bad_request(f"{type(exc).__name__}: {exc}")

    app.add_exception_handler(VendorError, on_vendor_error)
    for malformed in (ValueError, TypeError, KeyError, AttributeError):
        app.add_exception_handler(malformed, on_malformed)
    app.add_exception_handler(InjectedFault, on_fault)
    app.add_exception_handler(RequestValidationError, on_invalid)


def _control_router(system: str, store: SandboxStore) -> APIRouter:
    router = APIRouter(prefix="/_control", tags=["sandbox control"])

    @router.post("/fail")
    def fail(request: FailRequest) -> dict[str, Any]:
        store.arm_fault(system, request.mode, request.count)
        return {"system": system, "mode": request.mode, "count": request.count}

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        store.reset(system)
        return {"system": system, "reset": True}

    @router.get("/state")
    def state() -> dict[str, Any]:
        records = store.snapshot(system)
        records.pop(CONFIG_KIND, None)
        return {"system": system, "fault": store.fault(system), "records": records}

    @router.post("/webhook")
    def set_webhook(target: WebhookTarget) -> dict[str, Any]:
        store.put(system, CONFIG_KIND, "webhook_url", {"url": target.url})
        return {"system": system, "webhook_url": target.url}

    return router


def add_token_endpoint(
    router: APIRouter,
    path: str,
    *,
    system: str,
    store: SandboxStore,
    client_id: str,
    client_secret: str,
    seconds: int,
) -> None:
    """OAuth 2 client_credentials (form body), as CDEK and Avito have it."""

    @router.post(path)
    def token(
        grant_type: str = Form(...),
        given_id: str = Form(..., alias="client_id"),
        given_secret: str = Form(..., alias="client_secret"),
    ) -> dict[str, Any]:
        if grant_type != "client_credentials" or (given_id, given_secret) != (
            client_id,
            client_secret,
        ):
            body = {"error": "invalid_client", "error_description": "Bad credentials"}
            raise VendorError(JSONResponse(body, status_code=401))
        access = secrets.token_urlsafe(24)
        store.add(system, "token", access, {"expires": time.time() + seconds})
        return {"access_token": access, "token_type": "bearer", "expires_in": seconds}


def bearer_valid(system: str, store: SandboxStore, request: Request) -> bool:
    """Whether the request carries a token `add_token_endpoint` issued and is not expired."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return False
    token = store.get(system, "token", header.removeprefix("Bearer "))
    return token is not None and token["expires"] > time.time()


def webhook_url(system: str, store: SandboxStore, settings: SandboxSettings) -> str | None:
    """Where a dashboard-configured vendor (YooKassa, WhatsApp) sends notifications."""
    stored = store.get(system, CONFIG_KIND, "webhook_url")
    return stored["url"] if stored else settings.webhook_url


def emit(
    *,
    system: str,
    store: SandboxStore,
    settings: SandboxSettings,
    url: str,
    payload: Any,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> dict[str, Any]:
    """POST a vendor notification to `url` and record the delivery and its outcome."""
    delivery: dict[str, Any] = {"id": str(uuid.uuid4()), "url": url, "payload": payload}
    try:
        response = httpx.post(
            url,
            json=None if content is not None else payload,
            content=content,
            headers=headers,
            timeout=settings.webhook_timeout,
        )
        delivery["status_code"] = response.status_code
    except httpx.HTTPError as exc:
        delivery["status_code"] = None
        delivery["error"] = f"{type(exc).__name__}: {exc}"
    store.add(system, DELIVERY_KIND, delivery["id"], delivery)
    return delivery


def require(style: VendorStyle, body: Any, *fields: str) -> dict[str, Any]:
    """The JSON object `body` with every field in `fields` present, else a vendor 400."""
    if not isinstance(body, dict):
        raise style.fail(400, "the request body must be a JSON object")
    for field in fields:
        if body.get(field) in (None, "", [], {}):
            raise style.missing(field)
    return body


def new_uuid() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_now() -> str:
    """Now as ISO 8601 with milliseconds and Z, the way most vendors write it."""
    now = utc_now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def mount_url(request: Request) -> str:
    """The absolute URL the double is mounted at (e.g. http://host/sandbox/moysklad)."""
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}"
